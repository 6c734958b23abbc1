// Memory while loading: the model streams into a buffer owned by the module (never held whole in
// JS), every failed or aborted load gives its memory back, and loading the largest real model
// peaks at most about two model sizes above the baseline.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { InferenceSession, memoryUsage } from 'onnxlet';

import { flakyServer } from '../support/flaky-server.mjs';
import { modelsDir } from '../support/models.mjs';

const magika = join(modelsDir, 'magika', 'model.onnx');
const minilm = join(modelsDir, 'minilm', 'model.onnx');
let server;
let base;

before(async () => {
  server = await flakyServer({ magika, minilm });
  base = server.url;
  // Instantiate the module and let lazily created state settle before taking baselines.
  await (await InferenceSession.create(`${base}/magika`)).release();
  // serde-wasm-bindgen caches the JS strings of the field names it has converted, once each
  // (memoryUsage()'s own the first time: 104 bytes): a first call, so baselines come after it.
  memoryUsage();
});

after(() => server.close());

test('every failed or aborted load gives its heap back', async () => {
  // Every session has an instance of its own: with none open, nothing is counted.
  const baseline = memoryUsage().heapBytes;
  const memoryBaseline = memoryUsage().memoryBytes;
  const size = statSync(magika).size;
  const abortAt = (fraction, url = `${base}/magika`) => {
    const controller = new AbortController();
    const onProgress = (e) => e.status === 'download' && e.loaded >= size * fraction && controller.abort();
    return InferenceSession.create(url, { signal: controller.signal, onProgress });
  };
  const failures = {
    'abort half-way': () => abortAt(0.5),
    'abort half-way without Content-Length': () => abortAt(0.5, `${base}/magika?length=0`),
    'abort at compile': () => {
      const controller = new AbortController();
      const onProgress = (e) => e.status === 'compile' && controller.abort();
      return InferenceSession.create(`${base}/magika`, { signal: controller.signal, onProgress });
    },
    'abort while stalled': () => InferenceSession.create(`${base}/magika?stall`, { signal: AbortSignal.timeout(300) }),
    'connection cut': () => InferenceSession.create(`${base}/magika?cut=${Math.floor(size / 2)}`),
    'connection cut without Content-Length': () => InferenceSession.create(`${base}/magika?length=0&cut=1000000`),
    'integrity mismatch': () => InferenceSession.create(`${base}/magika`, { integrity: `sha256-${'A'.repeat(43)}=` }),
    'truncated model': () => InferenceSession.create(`${base}/magika?length=0&cut=${size - 1000}`),
  };
  for (const [name, load] of Object.entries(failures)) {
    await assert.rejects(load(), `${name} did not fail`);
    assert.equal(memoryUsage().heapBytes, baseline, `${name}: the heap did not return to its baseline`);
    assert.equal(memoryUsage().memoryBytes, memoryBaseline, `${name}: its instance's memory is still counted`);
  }
  const session = await InferenceSession.create(`${base}/magika`);
  assert.ok(memoryUsage().heapBytes > baseline + size / 2, 'a loaded session holds its weights');
  assert.ok(memoryUsage().memoryBytes > memoryBaseline + size / 2, "the session's memory is counted");
  await session.release();
  assert.equal(memoryUsage().heapBytes, baseline, 'release() gives the session back');
  // Its instance's whole memory goes with it, not just the heap inside (WebAssembly memory never shrinks).
  assert.equal(memoryUsage().memoryBytes, memoryBaseline, "release() gives the session's memory back");
});

test('a load aborted part-way through building the model stops there and gives its heap back', async () => {
  const baseline = memoryUsage().heapBytes;
  const controller = new AbortController();
  const compiles = [];
  const onProgress = (e) => {
    if (e.status !== 'compile') return;
    compiles.push(e.progress);
    // At the first report of a partly built model, abort from a timer, as a page would: the
    // timer runs only if the module returns to the event loop while it builds the model.
    if (compiles.length === 2) setTimeout(() => controller.abort(), 0);
  };
  await assert.rejects(InferenceSession.create(`${base}/minilm`, { signal: controller.signal, onProgress }), { name: 'AbortError' });
  // The module built the 90 MB model a slice at a time, and stopped soon after the abort, well
  // short of its end.
  assert.ok(compiles.length >= 2 && compiles.length <= 4, `compile progress ${compiles}`);
  assert.ok(compiles.at(-1) > 0 && compiles.at(-1) < 0.9, `compile progress ${compiles}`);
  assert.equal(memoryUsage().heapBytes, baseline, 'the heap did not return to its baseline');
  // The module still loads and runs the model.
  const session = await InferenceSession.create(`${base}/minilm`);
  await session.release();
  assert.equal(memoryUsage().heapBytes, baseline);
});

/** A full garbage collection (`--expose-gc`, set at run time for this file's tests). */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc');

test('loading the largest real model peaks at about twice its size, and JS never holds it', async () => {
  const size = statSync(minilm).size;
  const before = memoryUsage({ resetPeak: true });
  // Node does not count wasm memory among its array buffers. Each sample follows a garbage
  // collection, so that it counts the buffers JS still holds, not the chunks already copied into
  // the module and not yet collected: those varied from 13 to 23 MB from run to run.
  const jsBuffers = () => {
    collectGarbage();
    return process.memoryUsage().arrayBuffers;
  };
  const js = { start: jsBuffers(), max: 0 };
  let nextSample = 0;
  const sample = (event) => {
    // Every 4 MB of the download, and at each other stage.
    if (event?.status === 'download' && event.loaded < nextSample) return;
    nextSample = (event?.loaded ?? 0) + 4e6;
    js.max = Math.max(js.max, jsBuffers() - js.start);
  };
  const session = await InferenceSession.create(`${base}/minilm`, { onProgress: sample });
  sample();
  const after = memoryUsage();
  const peak = after.peakHeapBytes - before.heapBytes;
  const grown = after.memoryBytes - before.memoryBytes;
  const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
  console.log(
    `minilm ${mb(size)}: heap peak +${mb(peak)} (${(peak / size).toFixed(2)}x), heap after load ` +
      `+${mb(after.heapBytes - before.heapBytes)}, wasm memory grew ${mb(grown)} (${(grown / size).toFixed(2)}x), ` +
      `JS array buffers besides wasm memory at most +${mb(Math.max(js.max, 0))}`,
  );
  // The lite engine decodes the protobuf (a copy of the weights) while the bytes are still there,
  // so that a model it refuses can go to tract: 2.05 times here. tract frees the bytes as it
  // decodes the weights (tests/memory.rs: below twice natively).
  assert.equal(session.engine, 'lite');
  const most = 2.15 * size;
  assert.ok(peak <= most, `the heap peaked ${mb(peak)} above its baseline, over 2.15 times the model's ${mb(size)}`);
  assert.ok(grown <= most, `wasm memory grew ${mb(grown)}, over 2.15 times the model's ${mb(size)}`);
  assert.ok(js.max < size / 4, `JS held ${mb(js.max)} of array buffers while loading a ${mb(size)} model`);
  await session.release();
});
