#!/bin/sh
# Writes www/vad/sample.wav, the voice activity demo's bundled recording: three sentences of
# synthetic English speech (Debian's espeak-ng) with pauses between them, 16 kHz mono 16-bit PCM.
# espeak-ng speaks at 22050 Hz; Python (numpy) resamples to 16 kHz in the frequency domain, adds
# half a second of quiet at the start, a faint seeded noise floor, and normalizes the peak.
#
# Usage: sh scripts/make-vad-sample.sh   (needs espeak-ng: sudo apt-get install -y espeak-ng)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/www/vad/sample.wav"
command -v espeak-ng >/dev/null || { echo "espeak-ng is missing: sudo apt-get install -y espeak-ng" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

espeak-ng -v en-us -s 165 -m -w "$tmp/speech.wav" \
  '<speak>Hello! This is voice activity detection in your browser. <break time="1000ms"/>
   Nothing you say leaves this page. <break time="800ms"/> A pause ends a segment.</speak>'

python3 - "$tmp/speech.wav" "$out" <<'EOF'
import sys
import wave

import numpy as np

source, target = sys.argv[1], sys.argv[2]
with wave.open(source, "rb") as w:
    assert w.getnchannels() == 1 and w.getsampwidth() == 2, "espeak-ng wrote an unexpected format"
    rate = w.getframerate()
    x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768

n = round(len(x) * 16000 / rate)
spectrum = np.fft.rfft(x)[: n // 2 + 1]
y = np.fft.irfft(spectrum, n) * n / len(x)
y = np.concatenate([np.zeros(8000), y, np.zeros(4000)])
y += np.random.default_rng(20240611).normal(0, 3e-4, len(y))
y *= 0.7 / np.max(np.abs(y))

with wave.open(target, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(16000)
    w.writeframes(np.round(y * 32767).astype("<i2").tobytes())
print(f"wrote {target}: {len(y) / 16000:.2f} s, {16000} Hz mono 16-bit")
EOF
