// The engines in Chromium: by default the script-tag build fetches onnxlet_lite_relaxed_bg.wasm (only
// it) and runs every real model against its reference on the lite engine; a model the lite engine
// cannot run loads on tract, whose module is fetched then; env.wasm.build = 'lite' refuses it
// instead; `worker: true` sessions route the same way in their worker.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launch, openPage, serveTestSite } from '../support/browser.mjs';
import { loadIndex } from '../support/models.mjs';

const index = loadIndex();
let browser;
let site;

before(async () => {
  site = await serveTestSite();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

const wasmRequests = () => site.requests.filter((r) => r.path.endsWith('.wasm')).map((r) => r.path);

/** Runs every case of `model` in the page (with `options` for create); returns the failures per case. */
const runModel = (model, options) =>
  (async () => {
    const readBytes = async (file) => new Uint8Array(await (await fetch(`/models/${file}`)).arrayBuffer());
    const session = await window.onnxlet.InferenceSession.create(`/models/${model.file}`, options);
    const results = await window.checkModel(window.onnxlet, session, model, readBytes);
    await session.release();
    return results.map((r) => ({ case: r.case, failures: r.failures }));
  })();

test('by default the script-tag build fetches only onnxlet_lite_relaxed_bg.wasm (Chromium has relaxed SIMD) and runs every real model right on it', async () => {
  const before = wasmRequests().length;
  const { page, problems } = await openPage(browser, `${site.url}/pages/script.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading');
  await page.evaluate(`window.runModel = ${runModel}`);
  for (const model of index.models) {
    const results = await page.evaluate((model) => window.runModel(model), model);
    for (const r of results) assert.deepEqual(r.failures, [], `${model.name} case ${r.case}`);
    assert.deepEqual(await createIn(page, `/models/${model.file}`), { engine: 'lite' }, model.name);
  }
  assert.deepEqual(wasmRequests().slice(before), ['/dist/onnxlet_lite_relaxed_bg.wasm']);
  assert.deepEqual(problems, []);
  await page.close();
});

/** Creates a session on `path` in the page (`options` for create): its engine, or the error. */
const createIn = (page, path, options) =>
  page.evaluate(
    ({ path, options }) =>
      window.onnxlet.InferenceSession.create(path, options).then(
        async (session) => {
          const { engine } = session;
          await session.release();
          return { engine };
        },
        (error) => ({ code: error.code, message: error.message }),
      ),
    { path, options },
  );

test('a model the lite engine cannot run loads on tract, whose module is fetched only then', async () => {
  const { page, problems } = await openPage(browser, `${site.url}/pages/script.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading');
  const before = wasmRequests().length;
  assert.deepEqual(await createIn(page, '/test-models/two_outputs.onnx'), { engine: 'lite' });
  assert.deepEqual(wasmRequests().slice(before), ['/dist/onnxlet_lite_relaxed_bg.wasm']);
  // float64 and string inputs: the lite engine has neither.
  assert.deepEqual(await createIn(page, '/test-models/all_dtypes.onnx'), { engine: 'tract' });
  assert.deepEqual(wasmRequests().slice(before), ['/dist/onnxlet_lite_relaxed_bg.wasm', '/dist/onnxlet_relaxed_bg.wasm']);
  // Each module loads once; the next model the lite engine runs stays on it.
  assert.deepEqual(await createIn(page, '/test-models/all_dtypes.onnx'), { engine: 'tract' });
  assert.deepEqual(await createIn(page, '/test-models/two_outputs.onnx'), { engine: 'lite' });
  assert.equal(wasmRequests().length - before, 2);
  assert.deepEqual(problems, []);
  await page.close();
});

test("env.wasm.build = 'lite' refuses what only tract runs, naming the way to it, and fetches nothing more", async () => {
  const { page, problems } = await openPage(browser, `${site.url}/pages/script.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading');
  const before = wasmRequests().length;
  await page.evaluate(() => {
    window.onnxlet.env.wasm.build = 'lite';
  });
  const refused = await createIn(page, '/test-models/dft.onnx');
  assert.equal(refused.code, 'UNSUPPORTED_OPERATOR');
  assert.match(refused.message, /DFT \(domain ai\.onnx, opset \d+\) at node .* in the lite build/);
  // DFT is in tract's full build only, and the message says so (not "the tract engine runs it").
  assert.match(refused.message, /\. DFT is only in onnxlet's full build \(onnxlet_full_bg\.wasm: set env\.wasm\.build = 'full'/);
  assert.deepEqual(wasmRequests().slice(before), ['/dist/onnxlet_lite_relaxed_bg.wasm']);
  assert.deepEqual(problems, []);
  await page.close();
});

test('worker sessions route as the page does, and report their engine', async () => {
  const squeezenet = index.models.find((m) => m.name === 'squeezenet');
  const { page, problems } = await openPage(browser, `${site.url}/pages/esm.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  await page.evaluate(`window.runModel = ${runModel}`);
  const before = wasmRequests().length;
  const inWorker = await page.evaluate((model) => window.runModel(model, { worker: true }), squeezenet);
  for (const r of inWorker) assert.deepEqual(r.failures, [], `case ${r.case}`);
  assert.deepEqual(await createIn(page, '/test-models/two_outputs.onnx', { worker: true }), { engine: 'lite' });
  assert.deepEqual(await createIn(page, '/test-models/all_dtypes.onnx', { worker: true }), { engine: 'tract' });
  // env.wasm.build reaches the worker.
  await page.evaluate(() => {
    window.onnxlet.env.wasm.build = 'tract';
  });
  assert.deepEqual(await createIn(page, '/test-models/two_outputs.onnx', { worker: true }), { engine: 'tract' });
  const fetched = wasmRequests().slice(before);
  assert.ok(fetched.includes('/dist/onnxlet_lite_relaxed_bg.wasm'), fetched.join(', '));
  assert.ok(fetched.includes('/dist/onnxlet_relaxed_bg.wasm'), fetched.join(', '));
  // The page itself loaded no module: each session's worker did.
  const inPage = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('.wasm')));
  assert.deepEqual(inPage, []);
  assert.deepEqual(problems, []);
  await page.close();
});
