// The voice activity demo's plain modules in Node: the streaming segmenter against silero-vad's
// own get_speech_timestamps_from_probs (run by tests/support/vad_reference.py), the microphone
// resampler on tones, and the WAV reader.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { Resampler } from '../../www/vad/resampler.js';
import { SpeechSegmenter } from '../../www/vad/segmenter.js';
import { parseWav } from '../../www/vad/wav.js';
import { root } from '../support/models.mjs';

/** A seeded generator (mulberry32), so failures reproduce. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Probabilities that dwell in speech, silence or in between for random stretches. */
function probabilitySequence(rand, length) {
  const levels = [0.02, 0.2, 0.4, 0.49, 0.5, 0.6, 0.97, 0.34, 0.35, 0.36];
  const probs = [];
  while (probs.length < length) {
    const level = levels[Math.floor(rand() * levels.length)];
    const run = 1 + Math.floor(rand() * 14);
    for (let i = 0; i < run && probs.length < length; i++) probs.push(level);
  }
  return probs;
}

function streamed(probs, sampleCount) {
  const segmenter = new SpeechSegmenter();
  const live = [];
  for (const p of probs) {
    const done = segmenter.push(p);
    if (done) live.push(done);
  }
  return { live, all: segmenter.finish(sampleCount) };
}

test('streaming segments equal silero-vad get_speech_timestamps_from_probs', () => {
  const rand = random(7);
  const cases = [
    { probs: [], sampleCount: 0 },
    { probs: [0.9, 0.9, 0.9], sampleCount: 1536 },
    { probs: Array(20).fill(0.9), sampleCount: 20 * 512 - 100 },
    { probs: [...Array(9).fill(0.9), ...Array(5).fill(0.1)], sampleCount: 14 * 512 },
    { probs: [...Array(8).fill(0.9), ...Array(3).fill(0.1), ...Array(8).fill(0.9), ...Array(10).fill(0.1)], sampleCount: 29 * 512 },
    { probs: [0.1, ...Array(30).fill(0.4), 0.1, 0.1, 0.1, 0.1], sampleCount: 35 * 512 },
  ];
  for (let i = 0; i < 60; i++) {
    const length = 20 + Math.floor(rand() * 400);
    cases.push({ probs: probabilitySequence(rand, length), sampleCount: length * 512 - Math.floor(rand() * 512) });
  }
  const expected = JSON.parse(
    execFileSync('python3', [join(root, 'tests', 'support', 'vad_reference.py'), '--timestamps'], { input: JSON.stringify(cases) }).toString(),
  );
  let segments = 0;
  cases.forEach((c, i) => {
    const { live, all } = streamed(c.probs, c.sampleCount);
    assert.deepEqual(all, expected[i], `case ${i}: ${JSON.stringify(c.probs.slice(0, 40))}…`);
    assert.deepEqual(live, all.slice(0, live.length), `case ${i}: a segment changed after it was reported`);
    segments += all.length;
  });
  assert.ok(segments > 100, `only ${segments} segments in the random cases`);
});

test('the segment in progress, and settings that cannot stream', () => {
  const segmenter = new SpeechSegmenter();
  for (const p of [0.1, 0.1, 0.8, 0.9]) segmenter.push(p);
  assert.deepEqual(segmenter.open, { start: 1024 - 480, end: 2048 });
  segmenter.push(0.1);
  assert.deepEqual(segmenter.open, { start: 544, end: 2560 }, 'a short silence does not close it');
  assert.throws(() => new SpeechSegmenter({ minSilenceMs: 50 }), /minSilenceMs \(50\) must be at least twice speechPadMs \(30\)/);
});

/** `seconds` of a sine at `frequency` Hz sampled at `rate`. */
const tone = (frequency, rate, seconds) => Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.sin((2 * Math.PI * frequency * i) / rate));

function resample(input, from, to, block) {
  const r = new Resampler(from, to);
  const parts = [];
  for (let i = 0; i < input.length; i += block) parts.push(r.push(input.subarray(i, i + block)));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

test('the resampler keeps tones under 8 kHz, removes those above, and streams in any block size', () => {
  for (const from of [48000, 44100, 22050]) {
    const out = resample(tone(440, from, 1), from, 16000, 128);
    const expected = tone(440, 16000, 1);
    assert.ok(Math.abs(out.length - 16000) < 64, `${from} Hz: ${out.length} samples for 1 s`);
    let worst = 0;
    for (let i = 200; i < out.length - 200; i++) worst = Math.max(worst, Math.abs(out[i] - expected[i]));
    assert.ok(worst < 2e-3, `${from} Hz → 16 kHz: a 440 Hz tone is off by ${worst}`);

    const alias = resample(tone(11000, from, 1), from, 16000, 128);
    const peak = alias.subarray(200, alias.length - 200).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(peak < 1e-2, `${from} Hz → 16 kHz: an 11 kHz tone leaks through at ${peak}`);
  }
  const speech = tone(300, 48000, 0.5).map((v, i) => v * Math.sin(i / 900));
  const oneGo = resample(speech, 48000, 16000, speech.length);
  for (const block of [1, 128, 441, 4000]) {
    const blocks = resample(speech, 48000, 16000, block);
    assert.equal(blocks.length, oneGo.length, `block ${block}`);
    assert.ok(blocks.every((v, i) => v === oneGo[i]), `block ${block} differs from one go`);
  }
  assert.deepEqual([...new Resampler(16000, 16000).push(Float32Array.of(1, 2, 3))], [1, 2, 3]);
});

function wavBytes({ format = 1, channels, rate, bits, frames }) {
  const bytes = bits / 8;
  const data = frames.length * channels * bytes;
  const view = new DataView(new ArrayBuffer(44 + data));
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + data, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, format, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * channels * bytes, true);
  view.setUint16(32, channels * bytes, true);
  view.setUint16(34, bits, true);
  text(36, 'data');
  view.setUint32(40, data, true);
  let offset = 44;
  for (const frame of frames) {
    for (const v of frame) {
      if (format === 3) view.setFloat32(offset, v, true);
      else if (bits === 16) view.setInt16(offset, v, true);
      else if (bits === 24) {
        view.setUint8(offset, v & 0xff);
        view.setUint8(offset + 1, (v >> 8) & 0xff);
        view.setInt8(offset + 2, v >> 16);
      }
      offset += bytes;
    }
  }
  return view.buffer;
}

test('WAV: 16-bit, 24-bit and float PCM, channels averaged; clear errors', () => {
  const sixteen = parseWav(wavBytes({ channels: 2, rate: 8000, bits: 16, frames: [[16384, -16384], [32767, 32767], [-32768, 0]] }));
  assert.equal(sixteen.sampleRate, 8000);
  assert.equal(sixteen.channels, 2);
  assert.deepEqual([...sixteen.samples], [0, 32767 / 32768, -0.5]);
  const deep = parseWav(wavBytes({ channels: 1, rate: 16000, bits: 24, frames: [[-8388608], [4194304]] }));
  assert.deepEqual([...deep.samples], [-1, 0.5]);
  const float = parseWav(wavBytes({ format: 3, channels: 1, rate: 16000, bits: 32, frames: [[0.25], [-0.75]] }));
  assert.deepEqual([...float.samples], [0.25, -0.75]);
  assert.throws(() => parseWav(new TextEncoder().encode('not a wav file at all').buffer), /not a WAV file/);
  assert.throws(() => parseWav(wavBytes({ format: 2, channels: 1, rate: 16000, bits: 16, frames: [[0]] })), /unsupported format 2/);

  const bundled = parseWav(new Uint8Array(readFileSync(join(root, 'www', 'vad', 'sample.wav'))).buffer);
  assert.equal(bundled.sampleRate, 16000);
  assert.equal(bundled.channels, 1);
  assert.ok(bundled.samples.length > 6 * 16000 && bundled.samples.length < 10 * 16000);
});
