// The builds in Chromium: `env.wasm.build = 'full'` makes the script-tag build fetch
// onnxlet_full_bg.wasm (and only it), and a `worker: true` session use it while the page's own
// module is the default build.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launch, openPage, serveTestSite } from '../support/browser.mjs';
import { inputs as gemmInputs } from '../support/gemm-fusions.mjs';

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

/** Loads tests/models/dft.onnx in the page and returns its output for x = 0..7 (or the error). */
const runDft = (options) => {
  const { InferenceSession, Tensor } = window.onnxlet;
  return InferenceSession.create('/test-models/dft.onnx', options).then(
    async (session) => {
      const x = new Tensor('float32', Float32Array.from({ length: 8 }, (_, i) => i), [1, 8, 1]);
      const { y } = await session.run({ x });
      await session.release();
      return { dims: y.dims, first: Array.from(y.data.subarray(0, 2)) };
    },
    (error) => ({ code: error.code, message: error.message }),
  );
};

const wasmRequests = () => site.requests.filter((r) => r.path.endsWith('.wasm')).map((r) => r.path);

test("script-tag build with env.wasm.build = 'full' fetches only onnxlet_full_bg.wasm and runs DFT", async () => {
  const before = wasmRequests().length;
  const { page, problems } = await openPage(browser, `${site.url}/pages/script.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading');
  await page.evaluate(`window.runDft = ${runDft}`);
  const outcome = await page.evaluate(() => {
    window.onnxlet.env.wasm.build = 'full';
    return window.runDft();
  });
  assert.deepEqual(outcome.dims, [1, 8, 2], JSON.stringify(outcome));
  assert.ok(Math.abs(outcome.first[0] - 28) < 1e-4 && Math.abs(outcome.first[1]) < 1e-4, JSON.stringify(outcome));
  assert.deepEqual(wasmRequests().slice(before), ['/dist/onnxlet_full_bg.wasm']);
  assert.deepEqual(problems, []);
  await page.close();
});

test("a worker session with env.wasm.build = 'full' runs DFT; the page's default module names the full build", async () => {
  const { page, problems } = await openPage(browser, `${site.url}/pages/esm.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  await page.evaluate(`window.runDft = ${runDft}`);
  const outcome = await page.evaluate(async () => {
    const onMainThread = await window.runDft();
    window.onnxlet.env.wasm.build = 'full';
    const inWorker = await window.runDft({ worker: true });
    return { onMainThread, inWorker };
  });
  assert.equal(outcome.onMainThread.code, 'UNSUPPORTED_OPERATOR');
  assert.match(outcome.onMainThread.message, /DFT is only in onnxlet's full build \(onnxlet_full_bg\.wasm: set env\.wasm\.build = 'full'/);
  assert.deepEqual(outcome.inWorker.dims, [1, 8, 2], JSON.stringify(outcome.inWorker));
  assert.ok(Math.abs(outcome.inWorker.first[0] - 28) < 1e-4, JSON.stringify(outcome.inWorker));
  assert.deepEqual(problems, []);
  await page.close();
});

/** Runs tests/models/gemm_fusions.onnx in the page on `inputs` ([name, dims, values]); returns every output as an array. */
const runGemm = async (inputs) => {
  const { InferenceSession, Tensor } = window.onnxlet;
  const feeds = Object.fromEntries(inputs.map(([n, d, v]) => [n, new Tensor('float32', Float32Array.from(v), d)]));
  const session = await InferenceSession.create('/test-models/gemm_fusions.onnx');
  const outputs = await session.run(feeds);
  await session.release();
  return Object.fromEntries(Object.entries(outputs).map(([n, t]) => [n, Array.from(t.data)]));
};

test("Chromium validates relaxed SIMD: env.wasm.build = 'tract' fetches onnxlet_relaxed_bg.wasm, or onnxlet_bg.wasm when relaxedSimd is false; they agree", async () => {
  const outputs = {};
  for (const relaxedSimd of [undefined, false]) {
    const before = wasmRequests().length;
    const { page, problems } = await openPage(browser, `${site.url}/pages/script.html`);
    await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading');
    await page.evaluate(`window.runGemm = ${runGemm}`);
    const args = { relaxed: relaxedSimd ?? null, inputs: gemmInputs.map(([n, d, v]) => [n, d, Array.from(v)]) };
    outputs[String(relaxedSimd)] = await page.evaluate(({ relaxed, inputs }) => {
      window.onnxlet.env.wasm.relaxedSimd = relaxed ?? undefined;
      window.onnxlet.env.wasm.build = 'tract';
      return window.runGemm(inputs);
    }, args);
    const expected = relaxedSimd === false ? '/dist/onnxlet_bg.wasm' : '/dist/onnxlet_relaxed_bg.wasm';
    assert.deepEqual(wasmRequests().slice(before), [expected]);
    assert.deepEqual(problems, []);
    await page.close();
  }
  const [relaxed, plain] = [outputs.undefined, outputs.false];
  assert.deepEqual(Object.keys(relaxed).sort(), Object.keys(plain).sort());
  for (const name of Object.keys(plain)) {
    for (let i = 0; i < plain[name].length; i++) {
      const tolerance = 1e-5 * (1 + Math.abs(plain[name][i]));
      assert.ok(Math.abs(relaxed[name][i] - plain[name][i]) <= tolerance, `${name}[${i}]: ${relaxed[name][i]} vs ${plain[name][i]}`);
    }
  }
});
