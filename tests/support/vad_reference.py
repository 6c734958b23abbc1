"""Reference for the voice activity demo: silero-vad 6.2.3 over a 16 kHz WAV with onnxruntime.

The stateful loop is the package's `OnnxWrapper.__call__` (utils_vad.py) in numpy: 512-sample
chunks, the previous chunk's last 64 samples prepended (input [1, 576]), state [2, 1, 128]
carried over, sr an int64 scalar; the last chunk is zero-padded, as `get_speech_timestamps`
does. The segments come from the package's own `get_speech_timestamps_from_probs` (its source,
read from the pinned wheel that scripts/fetch-models.py downloads, runs without torch) with
the defaults: threshold 0.5, min_speech_duration_ms 250, min_silence_duration_ms 100,
speech_pad_ms 30.

Usage: python3 tests/support/vad_reference.py WAV MODEL  → JSON on stdout:
  { "sampleCount": n, "probs": [...], "segments": [{ "start": samples, "end": samples }, ...] }
or: python3 tests/support/vad_reference.py --timestamps < [{ "probs": [...], "sampleCount": n }, ...]
  → the package's segments for each probability sequence, as a JSON list of lists.
"""

import ast
import glob
import json
import pathlib
import subprocess
import sys
import wave
import zipfile

import numpy as np
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parents[2]
WHEELS = ROOT / ".cache" / "wheels"
PACKAGE = "silero-vad==6.2.3"
CHUNK, CONTEXT, RATE = 512, 64, 16000


def read_wav(path):
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, RATE):
            raise SystemExit(f"{path}: expected 16 kHz mono 16-bit PCM")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / np.float32(32768)


def speech_probs(audio, model):
    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros((1, CONTEXT), np.float32)
    sr = np.array(RATE, dtype=np.int64)
    probs = []
    for start in range(0, len(audio), CHUNK):
        chunk = np.zeros((1, CHUNK), np.float32)
        piece = audio[start : start + CHUNK]
        chunk[0, : len(piece)] = piece
        x = np.concatenate([context, chunk], axis=1)
        out, state = session.run(None, {"input": x, "state": state, "sr": sr})
        context = x[:, -CONTEXT:]
        probs.append(float(out[0, 0]))
    return probs


def package_timestamps_function():
    """`get_speech_timestamps_from_probs` from the silero-vad wheel's utils_vad.py."""
    wheels = glob.glob(str(WHEELS / "silero_vad-6.2.3-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(WHEELS), PACKAGE],
            check=True,
        )
        wheels = glob.glob(str(WHEELS / "silero_vad-6.2.3-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        source = zf.read("silero_vad/utils_vad.py").decode()
    tree = ast.parse(source)
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_speech_timestamps_from_probs"]
    namespace = {"List": list, "Callable": object}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), "utils_vad.py", "exec"), namespace)
    return namespace["get_speech_timestamps_from_probs"]


def main():
    if sys.argv[1:] == ["--timestamps"]:
        timestamps = package_timestamps_function()
        cases = json.load(sys.stdin)
        json.dump([timestamps(c["probs"], sampling_rate=RATE, audio_length_samples=c["sampleCount"]) for c in cases], sys.stdout)
        return
    wav, model = sys.argv[1], sys.argv[2]
    audio = read_wav(wav)
    probs = speech_probs(audio, model)
    timestamps = package_timestamps_function()
    segments = timestamps(probs, sampling_rate=RATE, audio_length_samples=len(audio))
    json.dump({"sampleCount": len(audio), "probs": probs, "segments": segments}, sys.stdout)


if __name__ == "__main__":
    main()
