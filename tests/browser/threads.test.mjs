// Multi-threading in Chromium: with `env.wasm.numThreads` above 1 in a cross-origin isolated
// page, a session runs in the multi-threaded worker (onnxlet.threads.worker.mjs) on the lite
// engine's threads module, onnxlet_lite_threads_relaxed_bg.wasm (or its plain twin), with one
// more worker per thread beyond the session's own, and real models still match their
// references; a model the lite engine cannot run goes to tract's threads module
// (onnxlet_threads_relaxed_bg.wasm). Elsewhere,
// sessions fall back to one thread with a console warning, and a crash of a multi-threaded
// module releases its session only.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launch, openPage, serveTestSite } from '../support/browser.mjs';
import { loadIndex } from '../support/models.mjs';

const index = loadIndex();
let browser;
let isolated;
let plain;

before(async () => {
  [isolated, plain] = await Promise.all([serveTestSite({ isolated: true }), serveTestSite()]);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await Promise.all([isolated?.close(), plain?.close()]);
});

/** How often each of the paths was requested from `site` since `since` requests. */
function requested(site, since, ...paths) {
  const later = site.requests.slice(since).map((r) => r.path);
  return Object.fromEntries(paths.map((p) => [p, later.filter((l) => l === p).length]));
}

const THREADS_WORKER = '/dist/onnxlet.threads.worker.mjs';
// Chromium has relaxed SIMD: the multi-threaded modules' relaxed twins.
const THREADS_WASM = '/dist/onnxlet_lite_threads_relaxed_bg.wasm';
const TRACT_THREADS_WASM = '/dist/onnxlet_threads_relaxed_bg.wasm';

/** Creates a session on each model in the page, checks it against its references, releases it. */
const checkModels = async (models, options) => {
  const readBytes = async (file) => new Uint8Array(await (await fetch(`/models/${file}`)).arrayBuffer());
  const out = [];
  for (const model of models) {
    const session = await window.onnxlet.InferenceSession.create(`/models/${model.file}`, options);
    const results = await window.checkModel(window.onnxlet, session, model, readBytes);
    await session.release();
    out.push({ name: model.name, engine: session.engine, results });
  }
  return out;
};

async function isolatedPage(url = `${isolated.url}/pages/esm.html`, options) {
  const opened = await openPage(browser, url, options);
  await opened.page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  assert.equal(await opened.page.evaluate(() => globalThis.crossOriginIsolated), true);
  await opened.page.evaluate(`window.checkModels = ${checkModels}`);
  return opened;
}

test('numThreads = 2: real models run on the lite threads module and match their references', async () => {
  const { page, problems } = await isolatedPage();
  // Matrix products (minilm), convolutions through im2col (squeezenet, magika), depthwise ones
  // (ppocr_det) and grouped ones (shufflenet), split across the threads.
  const models = ['minilm', 'squeezenet', 'magika', 'ppocr_det', 'shufflenet'].map((n) => index.models.find((m) => m.name === n));
  const since = isolated.requests.length;
  const outcome = await page.evaluate(async (models) => {
    window.onnxlet.env.wasm.numThreads = 2;
    return window.checkModels(models);
  }, models);
  for (const { name, engine, results } of outcome) {
    assert.equal(engine, 'lite', name);
    for (const r of results) assert.deepEqual(r.failures, [], `${name}: ${JSON.stringify(r)}`);
  }
  // Per session: its worker, the first of its two threads, and one more for the second, each
  // instantiating the module.
  const n = models.length;
  assert.deepEqual(requested(isolated, since, THREADS_WORKER, THREADS_WASM, TRACT_THREADS_WASM, '/dist/onnxlet_lite_relaxed_bg.wasm'), {
    [THREADS_WORKER]: 2 * n,
    [THREADS_WASM]: n,
    [TRACT_THREADS_WASM]: 0,
    '/dist/onnxlet_lite_relaxed_bg.wasm': 0,
  });
  assert.deepEqual(problems, []);
  await page.close();
});

test('cache: true in a multi-threaded session stores the model (a copy out of the shared memory) and reuses it', async () => {
  const { page, problems } = await isolatedPage();
  const path = '/models/squeezenet/model.onnx';
  const since = isolated.requests.length;
  const listed = await page.evaluate(async (path) => {
    const { InferenceSession, env, modelCache } = window.onnxlet;
    env.wasm.numThreads = 2;
    await modelCache.clear();
    for (let i = 0; i < 2; i++) await (await InferenceSession.create(path, { cache: true })).release();
    const entries = await modelCache.list();
    await modelCache.clear();
    return entries;
  }, path);
  assert.deepEqual(listed, [{ url: `${isolated.url}${path}`, bytes: index.models.find((m) => m.name === 'squeezenet').bytes }]);
  assert.deepEqual(requested(isolated, since, path, THREADS_WASM), { [path]: 1, [THREADS_WASM]: 2 });
  assert.deepEqual(problems, []);
  await page.close();
});

test('numThreads unset in an isolated page: min(4, ceil(hardwareConcurrency / 2)) threads', async () => {
  const context = await browser.newContext();
  await context.addInitScript(() => Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => 6 }));
  const page = await context.newPage();
  await page.goto(`${isolated.url}/pages/esm.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  await page.evaluate(`window.checkModels = ${checkModels}`);
  const since = isolated.requests.length;
  const [outcome] = await page.evaluate((m) => window.checkModels([m]), index.models.find((m) => m.name === 'magika'));
  for (const r of outcome.results) assert.deepEqual(r.failures, [], JSON.stringify(r));
  // Three threads: the session's worker and two more.
  assert.deepEqual(requested(isolated, since, THREADS_WORKER, THREADS_WASM), { [THREADS_WORKER]: 3, [THREADS_WASM]: 1 });
  await context.close();
});

test('the script-tag build finds its threads worker and module beside the script; relaxedSimd = false reaches it', async () => {
  const { page, problems } = await openPage(browser, `${isolated.url}/pages/script.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading');
  const since = isolated.requests.length;
  const sum = await page.evaluate(async () => {
    const { InferenceSession, Tensor, env } = window.onnxlet;
    env.wasm.numThreads = 3;
    env.wasm.relaxedSimd = false;
    const session = await InferenceSession.create('/test-models/add_dynamic.onnx');
    const a = new Tensor('float32', [1, 2, 3], [1, 3]);
    const { sum } = await session.run({ a, b: a });
    await session.release();
    return Array.from(sum.data);
  });
  assert.deepEqual(sum, [2, 4, 6]);
  // relaxedSimd = false reaches the worker: the plain module.
  assert.deepEqual(requested(isolated, since, THREADS_WORKER, THREADS_WASM, '/dist/onnxlet_lite_threads_bg.wasm'), {
    [THREADS_WORKER]: 3,
    [THREADS_WASM]: 0,
    '/dist/onnxlet_lite_threads_bg.wasm': 1,
  });
  assert.deepEqual(problems, []);
  await page.close();
});

test("a model the lite engine cannot run goes to tract's threads module; env.wasm.build = 'tract' forces it", async () => {
  const { page, problems } = await isolatedPage();
  const since = isolated.requests.length;
  const squeezenet = index.models.find((m) => m.name === 'squeezenet');
  const outcome = await page.evaluate(async (squeezenet) => {
    const { InferenceSession, env } = window.onnxlet;
    env.wasm.numThreads = 2;
    const session = await InferenceSession.create('/test-models/all_dtypes.onnx');
    const fallback = session.engine;
    await session.release();
    env.wasm.build = 'tract';
    const [forced] = await window.checkModels([squeezenet]);
    env.wasm.build = undefined;
    return { fallback, forced };
  }, squeezenet);
  assert.equal(outcome.fallback, 'tract');
  assert.equal(outcome.forced.engine, 'tract');
  for (const r of outcome.forced.results) assert.deepEqual(r.failures, [], JSON.stringify(r));
  // The fallback: a worker and the lite module, which refuses the model and so starts no
  // threads, then tract's module and one more thread; the forced session: tract's alone.
  assert.deepEqual(requested(isolated, since, THREADS_WORKER, THREADS_WASM, TRACT_THREADS_WASM), {
    [THREADS_WORKER]: 2 + 2,
    [THREADS_WASM]: 1,
    [TRACT_THREADS_WASM]: 2,
  });
  assert.deepEqual(problems, []);
  await page.close();
});

test('a page that is not cross-origin isolated runs on one thread and says why, once', async () => {
  const { page } = await openPage(browser, `${plain.url}/pages/esm.html`);
  const warnings = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  await page.evaluate(`window.checkModels = ${checkModels}`);
  const since = plain.requests.length;
  const model = index.models.find((m) => m.name === 'squeezenet');
  const outcome = await page.evaluate(async (m) => {
    window.onnxlet.env.wasm.numThreads = 4;
    return [...(await window.checkModels([m])), ...(await window.checkModels([m]))];
  }, model);
  for (const { results } of outcome) for (const r of results) assert.deepEqual(r.failures, [], JSON.stringify(r));
  assert.deepEqual(requested(plain, since, THREADS_WORKER, THREADS_WASM), { [THREADS_WORKER]: 0, [THREADS_WASM]: 0 });
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0], /numThreads is 4, but the page is not cross-origin isolated .*running on 1 thread/);
  await page.close();
});

test('errors cross from the threads worker; a crash stops only its own worker', async () => {
  const { page, problems } = await isolatedPage(undefined, { allowConsoleErrors: true });
  const outcome = await page.evaluate(async () => {
    const { InferenceSession, Tensor, env } = window.onnxlet;
    env.wasm.numThreads = 2;
    const failure = async (promise) => promise.then(() => 'no error', (e) => ({ code: e.code, message: e.message }));
    const malformed = await failure(InferenceSession.create(new Uint8Array([1, 2, 3, 4])));
    const session = await InferenceSession.create('/test-models/add_dynamic.onnx');
    const other = await InferenceSession.create('/test-models/add_dynamic.onnx');
    const small = new Tensor('float32', [1, 2, 3], [1, 3]);
    const wrong = await failure(session.run({ a: small, b: new Tensor('int32', [1, 2, 3], [1, 3]) }));
    // A trap in a session's module (no model is known to make one: the test hook traps on
    // purpose), in a worker of its own: the sessions in other workers go on.
    const crashing = await InferenceSession.create('/test-models/add_dynamic.onnx');
    const crash = await failure(crashing[Symbol.for('onnxlet.crashForTests')]());
    const after = await failure(crashing.run({ a: small, b: small }));
    const survivors = [session, other].map(async (s) => Array.from((await s.run({ a: small, b: small })).sum.data));
    const fresh = await InferenceSession.create('/test-models/add_dynamic.onnx');
    const sum = Array.from((await fresh.run({ a: small, b: small })).sum.data);
    return { malformed, wrong, crash, after, survivors: await Promise.all(survivors), sum };
  });
  assert.equal(outcome.malformed.code, 'INVALID_MODEL', JSON.stringify(outcome.malformed));
  assert.equal(outcome.wrong.code, 'INVALID_INPUT', JSON.stringify(outcome.wrong));
  assert.match(outcome.wrong.message, /float32.*int32|int32.*float32/);
  assert.equal(outcome.crash.code, 'RUNTIME_ERROR', JSON.stringify(outcome.crash));
  assert.match(outcome.crash.message, /crashed while crashing on purpose .*worker has stopped/);
  assert.equal(outcome.after.code, 'RELEASED', JSON.stringify(outcome.after));
  assert.deepEqual(outcome.survivors, [[2, 4, 6], [2, 4, 6]]);
  assert.deepEqual(outcome.sum, [2, 4, 6]);
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await page.close();
});
