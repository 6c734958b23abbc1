// The lite module in Chromium: `env.wasm.build = 'lite'` makes the script-tag build fetch
// onnxlet_lite_bg.wasm (and only it) and run every real model against its reference; a model
// the lite engine cannot run is refused naming the default build; a `worker: true` session runs
// on the lite module while the page's own module is the default one.
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

test("script-tag build with env.wasm.build = 'lite': only onnxlet_lite_bg.wasm, every real model right", async () => {
  const before = wasmRequests().length;
  const { page, problems } = await openPage(browser, `${site.url}/pages/script.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading');
  await page.evaluate(`window.runModel = ${runModel}`);
  await page.evaluate(() => {
    window.onnxlet.env.wasm.build = 'lite';
  });
  for (const model of index.models) {
    const results = await page.evaluate((model) => window.runModel(model), model);
    for (const r of results) assert.deepEqual(r.failures, [], `${model.name} case ${r.case}`);
  }
  const refused = await page.evaluate(() =>
    window.onnxlet.InferenceSession.create('/test-models/dft.onnx').then(
      () => null,
      (error) => ({ code: error.code, message: error.message }),
    ),
  );
  assert.equal(refused?.code, 'UNSUPPORTED_OPERATOR');
  assert.match(refused.message, /DFT \(domain ai\.onnx, opset \d+\) at node .* in the lite build/);
  assert.match(refused.message, /env\.wasm\.build = 'default'/);
  assert.deepEqual(wasmRequests().slice(before), ['/dist/onnxlet_lite_bg.wasm']);
  assert.deepEqual(problems, []);
  await page.close();
});

test("a worker session with env.wasm.build = 'lite' runs squeezenet beside the page's default module", async () => {
  const squeezenet = index.models.find((m) => m.name === 'squeezenet');
  const { page, problems } = await openPage(browser, `${site.url}/pages/esm.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  await page.evaluate(`window.runModel = ${runModel}`);
  const before = wasmRequests().length;
  const onMainThread = await page.evaluate((model) => window.runModel(model), squeezenet);
  const inWorker = await page.evaluate((model) => {
    window.onnxlet.env.wasm.build = 'lite';
    return window.runModel(model, { worker: true });
  }, squeezenet);
  for (const r of [...onMainThread, ...inWorker]) assert.deepEqual(r.failures, [], `case ${r.case}`);
  const fetched = wasmRequests().slice(before);
  assert.ok(fetched.includes('/dist/onnxlet_lite_bg.wasm'), fetched.join(', '));
  assert.ok(fetched.some((p) => /onnxlet(_relaxed)?_bg\.wasm$/.test(p)), fetched.join(', '));
  assert.deepEqual(problems, []);
  await page.close();
});
