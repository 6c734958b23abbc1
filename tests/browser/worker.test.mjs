// Worker mode (`worker: true`) and the ESM build inside a worker of the page's own, in Chromium:
// real models match their references, progress and errors cross the worker boundary, and the
// main thread keeps running while the worker computes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { launch, openPage, serveTestSite } from '../support/browser.mjs';
import { loadIndex, modelsDir } from '../support/models.mjs';

const index = loadIndex();
let browser;
let site;
let page;

before(async () => {
  site = await serveTestSite();
  browser = await launch();
  ({ page } = await openPage(browser, `${site.url}/pages/esm.html`));
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
});

after(async () => {
  await browser?.close();
  await site?.close();
});

test('worker: true runs real models with the same results and metadata', async () => {
  for (const name of ['squeezenet', 'magika', 'silero_vad', 'ppocr_cls']) {
    const model = index.models.find((m) => m.name === name);
    const outcome = await page.evaluate(async (model) => {
      const readBytes = async (file) => new Uint8Array(await (await fetch(`/models/${file}`)).arrayBuffer());
      const events = [];
      const session = await window.onnxlet.InferenceSession.create(`/models/${model.file}`, {
        worker: true,
        onProgress: (e) => events.push(e.status),
      });
      const results = await window.checkModel(window.onnxlet, session, model, readBytes);
      await session.release();
      return { results, events, inputNames: session.inputNames };
    }, model);
    assert.deepEqual(outcome.inputNames, model.inputs.map((i) => i.name));
    for (const r of outcome.results) assert.deepEqual(r.failures, [], `${name} case ${r.case}`);
    assert.equal(outcome.events.at(-1), 'ready');
    assert.ok(outcome.events.includes('download') && outcome.events.includes('compile'));
  }
});

test('worker errors are OnnxletErrors; abort rejects with an AbortError', async () => {
  const outcome = await page.evaluate(async () => {
    const { InferenceSession, OnnxletError, Tensor } = window.onnxlet;
    const failure = (promise) => promise.then(() => 'no error', (e) => ({ onnxlet: e instanceof OnnxletError, name: e.name, code: e.code, message: e.message }));
    const invalid = await failure(InferenceSession.create(new Uint8Array([8, 1, 18, 3, 1, 2, 3]), { worker: true }));
    const unsupported = await failure(InferenceSession.create('/test-models/unsupported_op.onnx', { worker: true }));
    const controller = new AbortController();
    const aborted = failure(InferenceSession.create('/models/minilm/model.onnx', { worker: true, signal: controller.signal }));
    controller.abort();
    const session = await InferenceSession.create('/test-models/add_dynamic.onnx', { worker: true });
    const t = new Tensor('float32', [1, 2, 3], [1, 3]);
    const { sum } = await session.run({ a: t, b: t });
    const wrong = await failure(session.run({ a: new Tensor('int32', [1, 2, 3], [1, 3]), b: t }));
    await session.release();
    const released = await failure(session.run({ a: t, b: t }));
    return { invalid, unsupported, aborted: await aborted, sum: Array.from(sum.data), stillUsable: Array.from(t.data), wrong, released };
  });
  assert.equal(outcome.invalid.code, 'INVALID_MODEL');
  assert.equal(outcome.invalid.onnxlet, true);
  assert.equal(outcome.unsupported.code, 'UNSUPPORTED_OPERATOR', outcome.unsupported.message);
  assert.match(outcome.unsupported.message, /FrobnicateTensor.*weird_node/);
  assert.equal(outcome.aborted.name, 'AbortError');
  assert.deepEqual(outcome.sum, [2, 4, 6]);
  assert.deepEqual(outcome.stillUsable, [1, 2, 3], 'the input tensor was detached by the transfer');
  assert.equal(outcome.wrong.code, 'INVALID_INPUT');
  assert.equal(outcome.released.code, 'RELEASED');
});

test('the main thread keeps running timers while the worker computes (and not without it)', async () => {
  const vgg = index.models.find((m) => m.name === 'vgg19');
  const measure = (worker) =>
    page.evaluate(
      async ({ file, worker }) => {
        const { InferenceSession, Tensor } = window.onnxlet;
        const session = await InferenceSession.create(`/models/${file}`, { worker });
        const input = new Tensor('float32', new Float32Array(3 * 224 * 224), [1, 3, 224, 224]);
        // The longest main-thread task is the longest gap between timer ticks (or to the end).
        let ticks = 0;
        let last = performance.now();
        let longestTask = 0;
        const timer = setInterval(() => {
          const now = performance.now();
          longestTask = Math.max(longestTask, now - last);
          last = now;
          ticks++;
        }, 10);
        const started = performance.now();
        await session.run({ [session.inputNames[0]]: input });
        const ms = performance.now() - started;
        longestTask = Math.max(longestTask, performance.now() - last);
        clearInterval(timer);
        await session.release();
        return { ticks, ms: Math.round(ms), longestTask: Math.round(longestTask) };
      },
      { file: vgg.file, worker },
    );
  const inWorker = await measure(true);
  const onMain = await measure(false);
  console.log(`vgg19 run: worker ${JSON.stringify(inWorker)}, main thread ${JSON.stringify(onMain)}`);
  assert.ok(inWorker.ticks >= 10, `the main thread ran ${inWorker.ticks} timer ticks during a worker run`);
  assert.ok(onMain.ticks <= 1, `the main thread ran ${onMain.ticks} timer ticks during a main-thread run`);
});

test('the ESM build works inside a worker of the page’s own', async () => {
  const squeezenet = index.models.find((m) => m.name === 'squeezenet');
  const [input] = squeezenet.cases[0].inputs;
  const data = [...new Float32Array(readFileSync(join(modelsDir, input.file)).buffer.slice(0))];
  const reply = await page.evaluate(
    ({ model, input, data }) =>
      new Promise((resolve) => {
        const worker = new Worker('/pages/user-worker.js', { type: 'module' });
        worker.onmessage = ({ data }) => resolve({ ...data, data: data.data ? Array.from(data.data.slice(0, 3)) : undefined });
        worker.postMessage({ model, inputs: [{ ...input, data }] });
      }),
    { model: `/models/${squeezenet.file}`, input, data },
  );
  assert.equal(reply.error, undefined, reply.error);
  assert.deepEqual(reply.dims, [1, 1000, 1, 1]);
  for (const v of reply.data) assert.ok(Math.abs(v - 0.001) < 1e-6);
});
