// The built package in a real headless Chromium: the ESM build and the script-tag build load
// on a page served from 127.0.0.1, run every real model against its reference, report errors
// cleanly. The demos have their own tests (demo-*.test.mjs).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { launch, openPage, serveTestSite } from '../support/browser.mjs';
import { tractCrashModel } from '../support/hostile-models.mjs';
import { loadIndex, root } from '../support/models.mjs';

const index = loadIndex();
const screenshots = join(root, 'test-results');
let browser;
let site;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  site = await serveTestSite();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

/** Runs every case of `model` in the page; returns per-case failures and timings. */
function runModelInPage(page, model) {
  return page.evaluate(async (model) => {
    const readBytes = async (file) => new Uint8Array(await (await fetch(`/models/${file}`)).arrayBuffer());
    const started = performance.now();
    const session = await window.onnxlet.InferenceSession.create(`/models/${model.file}`);
    const loadMs = performance.now() - started;
    const results = await window.checkModel(window.onnxlet, session, model, readBytes);
    await session.release();
    return { loadMs, results, inputNames: session.inputNames };
  }, model);
}

test('ESM build: every real model matches its reference in Chromium', async () => {
  const { page, problems } = await openPage(browser, `${site.url}/pages/esm.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  const timings = [];
  for (const model of index.models) {
    const { loadMs, results, inputNames } = await runModelInPage(page, model);
    assert.deepEqual(inputNames, model.inputs.map((i) => i.name));
    for (const r of results) assert.deepEqual(r.failures, [], `${model.name} case ${r.case}`);
    timings.push({
      model: model.name,
      'load ms': Math.round(loadMs),
      'first run ms': Math.round(results[0].ms),
      'max rel error': Math.max(...results.map((r) => r.maxError)).toExponential(1),
    });
  }
  console.log('\nChromium (wasm, 1 thread): load and run times');
  console.table(timings);
  assert.deepEqual(problems, []);
  await page.close();
});

test('script-tag build exposes the global `onnxlet` and runs real models', async () => {
  const { page, problems } = await openPage(browser, `${site.url}/pages/script.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading');
  assert.equal(await page.textContent('#status'), 'ready');
  assert.equal(await page.evaluate(() => typeof window.onnxlet.InferenceSession.create), 'function');
  for (const name of ['squeezenet', 'magika', 'silero_vad']) {
    const model = index.models.find((m) => m.name === name);
    const { results } = await runModelInPage(page, model);
    for (const r of results) assert.deepEqual(r.failures, [], `${name} case ${r.case}`);
  }
  assert.deepEqual(problems, []);
  await page.close();
});

test('errors in the browser are OnnxletErrors, and the module keeps working', async () => {
  // The missing model's 404 is logged by the browser itself.
  const { page, problems } = await openPage(browser, `${site.url}/pages/esm.html`, { allowConsoleErrors: true });
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  const outcome = await page.evaluate(async () => {
    const { InferenceSession, Tensor, OnnxletError } = window.onnxlet;
    const errors = {};
    const capture = async (key, promise) => {
      try {
        await promise;
        errors[key] = 'no error';
      } catch (e) {
        errors[key] = { isOnnxletError: e instanceof OnnxletError, code: e.code, message: e.message };
      }
    };
    await capture('garbage', InferenceSession.create(new Uint8Array([8, 1, 18, 3, 1, 2, 3])));
    await capture('unsupported', InferenceSession.create('/test-models/unsupported_op.onnx'));
    await capture('missing', InferenceSession.create('/test-models/no-such-model.onnx'));
    const session = await InferenceSession.create('/test-models/add_dynamic.onnx');
    const f32 = (dims) => new Tensor('float32', new Float32Array(dims[0] * dims[1]).fill(1), dims);
    await capture('dtype', session.run({ a: new Tensor('int32', new Int32Array(3), [1, 3]), b: f32([1, 3]) }));
    await capture('dim', session.run({ a: f32([1, 4]), b: f32([1, 3]) }));
    const { sum } = await session.run({ a: f32([2, 3]), b: f32([2, 3]) });
    await session.release();
    await capture('released', session.run({ a: f32([1, 3]), b: f32([1, 3]) }));
    return { errors, sum: Array.from(sum.data) };
  });
  const { errors } = outcome;
  assert.equal(errors.garbage.code, 'INVALID_MODEL');
  assert.equal(errors.unsupported.code, 'UNSUPPORTED_OPERATOR');
  assert.match(errors.unsupported.message, /FrobnicateTensor.*weird_node/);
  assert.equal(errors.missing.code, 'FETCH_FAILED');
  assert.match(errors.missing.message, /404/);
  assert.equal(errors.dtype.code, 'INVALID_INPUT');
  assert.match(errors.dtype.message, /input 'a': expected a float32 tensor, got int32/);
  assert.equal(errors.dim.code, 'INVALID_INPUT');
  assert.equal(errors.released.code, 'RELEASED');
  for (const e of Object.values(errors)) assert.equal(e.isOnnxletError, true);
  assert.deepEqual(outcome.sum, [2, 2, 2, 2, 2, 2]);
  assert.deepEqual(problems, []);
  await page.close();
});

test('on the main thread a crash loses only the crashing call: sessions of both engines go on', async () => {
  const { page, problems } = await openPage(browser, `${site.url}/pages/esm.html`, { allowConsoleErrors: true });
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  const outcome = await page.evaluate(async (crashing) => {
    const { InferenceSession, Tensor, env, memoryUsage } = window.onnxlet;
    const lite = await InferenceSession.create('/test-models/add_dynamic.onnx');
    env.wasm.build = 'tract';
    const session = await InferenceSession.create('/test-models/add_dynamic.onnx');
    const failure = async (promise) => promise.then(() => 'no error', (e) => ({ code: e.code, message: e.message }));
    const crash = await failure(InferenceSession.create(new Uint8Array(crashing)));
    const small = new Tensor('float32', [1, 2, 3], [1, 3]);
    const { sum } = await session.run({ a: small, b: small });
    const fresh = await InferenceSession.create('/test-models/add_dynamic.onnx');
    const { sum: freshSum } = await fresh.run({ a: small, b: small });
    const { sum: liteSum } = await lite.run({ a: small, b: small });
    const engines = [lite.engine, session.engine, fresh.engine];
    // Each session's instance: releasing them all leaves nothing counted.
    const open = memoryUsage().memoryBytes;
    for (const s of [lite, session, fresh]) await s.release();
    return { engines, crash, sums: [sum, freshSum, liteSum].map((t) => Array.from(t.data)), open, after: memoryUsage().memoryBytes };
  }, [...tractCrashModel()]);
  assert.deepEqual(outcome.engines, ['lite', 'tract', 'tract']);
  assert.equal(outcome.crash.code, 'RUNTIME_ERROR', JSON.stringify(outcome.crash));
  assert.match(outcome.crash.message, /crashed while loading the model .*other sessions are not affected/);
  // The tract session opened before the crash, a new one and the lite one all run.
  assert.deepEqual(outcome.sums, [[2, 4, 6], [2, 4, 6], [2, 4, 6]]);
  assert.ok(outcome.open > 0);
  assert.equal(outcome.after, 0);
  assert.deepEqual(problems, []);
  await page.close();
});

test('cache: true keeps the model in the Cache API; the second load makes no request', async () => {
  const { page, problems } = await openPage(browser, `${site.url}/pages/esm.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  const path = '/models/squeezenet/model.onnx';
  const fetched = () => site.requests.filter((r) => r.path === path).length;
  const before = fetched();
  const listed = await page.evaluate(async (path) => {
    const { InferenceSession, modelCache } = window.onnxlet;
    await modelCache.clear();
    await InferenceSession.create(path, { cache: true });
    await InferenceSession.create(path, { cache: true });
    return modelCache.list();
  }, path);
  assert.equal(fetched(), before + 1, 'the cached model was fetched again');
  assert.deepEqual(listed, [{ url: `${site.url}${path}`, bytes: index.models.find((m) => m.name === 'squeezenet').bytes }]);
  const afterDelete = await page.evaluate(async (path) => {
    const { InferenceSession, modelCache } = window.onnxlet;
    const deleted = await modelCache.delete(path);
    await InferenceSession.create(path, { cache: true });
    await modelCache.clear();
    return deleted;
  }, path);
  assert.equal(afterDelete, true);
  assert.equal(fetched(), before + 2);
  assert.deepEqual(problems, []);
  await page.close();
});
