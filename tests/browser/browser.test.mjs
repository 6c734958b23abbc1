// The built package in a real headless Chromium: the ESM build and the script-tag build load
// on a page served from 127.0.0.1, run every real model against its reference, report errors
// cleanly. The demos have their own tests (demo-*.test.mjs).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { launch, openPage, serveTestSite } from '../support/browser.mjs';
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

test('on the main thread a crash loses only the crashing session: the others, of both engines, go on', async () => {
  const { page, problems } = await openPage(browser, `${site.url}/pages/esm.html`, { allowConsoleErrors: true });
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  const outcome = await page.evaluate(async () => {
    const { InferenceSession, Tensor, env, memoryUsage } = window.onnxlet;
    const failure = async (promise) => promise.then(() => 'no error', (e) => ({ code: e.code, message: e.message }));
    const small = new Tensor('float32', [1, 2, 3], [1, 3]);
    const sum = async (s) => Array.from((await s.run({ a: small, b: small })).sum.data);
    const open = async (build) => {
      env.wasm.build = build;
      return InferenceSession.create('/test-models/add_dynamic.onnx');
    };
    const results = {};
    for (const build of ['lite', 'tract']) {
      const [before, crashing] = [await open(build), await open(build)];
      const other = await open(build === 'lite' ? 'tract' : 'lite');
      const counted = memoryUsage().memoryBytes;
      // A trap in the module (no model is known to make one: the test hook traps on purpose).
      const crash = await failure(crashing[Symbol.for('onnxlet.crashForTests')]());
      const freed = counted - memoryUsage().memoryBytes;
      const after = await failure(crashing.run({ a: small, b: small }));
      const fresh = await open(build);
      results[build] = {
        engines: [before.engine, crashing.engine, other.engine],
        crash,
        after,
        freed,
        sums: [await sum(before), await sum(other), await sum(fresh)],
      };
      for (const s of [before, crashing, other, fresh]) await s.release();
    }
    return { results, left: memoryUsage().memoryBytes };
  });
  for (const [build, r] of Object.entries(outcome.results)) {
    const other = build === 'lite' ? 'tract' : 'lite';
    assert.deepEqual(r.engines, [build, build, other]);
    assert.equal(r.crash.code, 'RUNTIME_ERROR', JSON.stringify(r.crash));
    assert.match(r.crash.message, /crashed while crashing on purpose .*this session is lost, and other sessions are not affected/);
    assert.equal(r.after.code, 'RELEASED', JSON.stringify(r.after));
    assert.match(r.after.message, /crashed/);
    // Its instance left the accounts (its memory goes to the collector).
    assert.ok(r.freed > 0, `${build}: ${r.freed}`);
    // The session of the same engine opened before, the other engine's, and a new one all run.
    assert.deepEqual(r.sums, [[2, 4, 6], [2, 4, 6], [2, 4, 6]], build);
  }
  assert.equal(outcome.left, 0, 'released sessions leave nothing counted');
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
