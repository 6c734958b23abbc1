// Loading in Chromium from a server on 127.0.0.1 that throttles, stalls, cuts the connection,
// omits Content-Length and serves wrong bytes (tests/support/flaky-server.mjs): progress events
// arrive in order, failures are clean errors that give the module heap back and cache nothing,
// a file the user picks loads, and the largest real model loads within twice its size.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { launch, openPage, serveTestSite } from '../support/browser.mjs';
import { flakyServer } from '../support/flaky-server.mjs';
import { modelsDir } from '../support/models.mjs';

const magika = join(modelsDir, 'magika', 'model.onnx');
const minilm = join(modelsDir, 'minilm', 'model.onnx');
let browser;
let site;
let models;

before(async () => {
  site = await serveTestSite();
  models = await flakyServer({ magika, minilm });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await models?.close();
  await site?.close();
});

async function loadingPage(options) {
  const { page, problems } = await openPage(browser, `${site.url}/pages/loading.html`, options);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  return { page, problems };
}

test('progress arrives in order; without Content-Length the total is undefined', async () => {
  const { page, problems } = await loadingPage();
  const size = statSync(magika).size;
  // Slow enough that Chromium hands over each 64 KiB as it comes (2% of the model).
  for (const url of [`${models.url}/magika?delay=10`, `${models.url}/magika?delay=10&length=0`]) {
    const events = await page.evaluate(async (url) => {
      const events = [];
      await window.onnxlet.InferenceSession.create(url, { onProgress: (e) => events.push(e) });
      return events;
    }, url);
    const downloads = events.filter((e) => e.status === 'download');
    // Compile events (one per slice of the build) from progress 0, then ready.
    const rest = events.slice(downloads.length);
    assert.deepEqual(rest.map((e) => e.status).filter((s, i, all) => s !== all[i - 1]), ['compile', 'ready']);
    assert.equal(rest[0].progress, 0);
    // With a total, an event per percent; without, one per 100 ms.
    const least = url.endsWith('length=0') ? 3 : 30;
    assert.ok(downloads.length >= least, `${url}: only ${downloads.length} download events`);
    for (const [i, e] of downloads.entries()) {
      if (url.endsWith('length=0')) assert.equal(e.total, undefined);
      else assert.equal(e.progress, e.loaded / size);
      if (i > 0) assert.ok(e.loaded >= downloads[i - 1].loaded, 'loaded went backwards');
    }
    assert.equal(downloads.at(-1).loaded, size);
  }
  assert.deepEqual(problems, []);
  await page.close();
});

test('cut, stalled-then-aborted, wrong and mismatching downloads fail cleanly, free their memory and cache nothing', async () => {
  // Chromium logs the cut connections on the console itself.
  const { page, problems } = await loadingPage({ allowConsoleErrors: true });
  const size = statSync(magika).size;
  const base = `${models.url}/magika`;
  const cases = {
    cut: { url: `${base}?cut=${Math.floor(size / 2)}`, code: 'FETCH_FAILED' },
    'cut without Content-Length': { url: `${base}?length=0&cut=1000000`, code: 'FETCH_FAILED' },
    'stalled, then aborted': { url: `${base}?stall`, abortAfterMs: 300, name: 'AbortError' },
    'aborted half-way': { url: base, abortAtFraction: 0.5, name: 'AbortError' },
    'wrong bytes': { url: `${base}?garbage`, code: 'INVALID_MODEL' },
    'integrity mismatch': { url: base, integrity: `sha256-${'A'.repeat(43)}=`, code: 'INTEGRITY_MISMATCH' },
  };
  const outcomes = await page.evaluate(
    async ({ cases, size }) => {
      const { InferenceSession, memoryUsage, modelCache } = window.onnxlet;
      await modelCache.clear();
      // Instantiate the module before taking the baseline.
      await (await InferenceSession.create(new URL('/test-models/two_outputs.onnx', location.href))).release();
      // serde-wasm-bindgen caches the JS strings of the field names it has converted, once each
      // (memoryUsage()'s own the first time): a first call, so the baseline is taken after it.
      memoryUsage();
      const baseline = memoryUsage().heapBytes;
      const outcomes = {};
      for (const [name, { url, abortAfterMs, abortAtFraction, integrity }] of Object.entries(cases)) {
        const controller = new AbortController();
        if (abortAfterMs) setTimeout(() => controller.abort(), abortAfterMs);
        const onProgress = (e) => abortAtFraction && e.loaded >= size * abortAtFraction && controller.abort();
        const started = performance.now();
        try {
          await InferenceSession.create(url, { signal: controller.signal, onProgress, integrity, cache: true });
          outcomes[name] = { loaded: true };
        } catch (error) {
          outcomes[name] = {
            name: error.name,
            code: error.code,
            message: error.message,
            ms: performance.now() - started,
            heapDelta: memoryUsage().heapBytes - baseline,
            cached: (await modelCache.list()).length,
          };
        }
      }
      return outcomes;
    },
    { cases, size },
  );
  for (const [name, expected] of Object.entries(cases)) {
    const outcome = outcomes[name];
    if (expected.code) assert.equal(outcome.code, expected.code, `${name}: ${JSON.stringify(outcome)}`);
    if (expected.name) assert.equal(outcome.name, expected.name, `${name}: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.heapDelta, 0, `${name}: the module heap did not return to its baseline`);
    assert.equal(outcome.cached, 0, `${name}: something was cached`);
  }
  assert.match(outcomes.cut.message, /ended after \d+ of its \d+ bytes|failed/);
  assert.match(outcomes['integrity mismatch'].message, /expected sha256-A+=, got sha256-/);
  assert.ok(outcomes['stalled, then aborted'].ms < 5000, 'aborting a stalled download took too long');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a model file the user picks loads from the File, with progress against its size', async () => {
  const { page, problems } = await loadingPage();
  await page.setInputFiles('#file', magika);
  await page.waitForFunction(() => document.getElementById('picked').textContent !== '');
  assert.equal(await page.textContent('#picked'), 'model.onnx: bytes');
  const { events } = await page.evaluate(() => window.picked);
  const size = statSync(magika).size;
  assert.ok(events.filter((e) => e.status === 'download').every((e) => e.total === size));
  assert.deepEqual(events.at(-1), { status: 'ready', loaded: size, total: size, progress: 1 });
  const streamed = await page.evaluate(async (url) => {
    const response = await fetch(url);
    const session = await window.onnxlet.InferenceSession.create(response.body);
    return session.outputNames;
  }, `${models.url}/magika`);
  assert.deepEqual(streamed, ['target_label']);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the largest real model: heap peak about twice its size; timings with and without the cache', async () => {
  const { page, problems } = await loadingPage();
  const size = statSync(minilm).size;
  const result = await page.evaluate(async (url) => {
    const { InferenceSession, memoryUsage, modelCache } = window.onnxlet;
    await modelCache.clear();
    await (await InferenceSession.create(new URL('/test-models/two_outputs.onnx', location.href))).release();
    const before = memoryUsage({ resetPeak: true });
    const time = async (options) => {
      const started = performance.now();
      const session = await InferenceSession.create(url, options);
      const ms = performance.now() - started;
      const usage = memoryUsage();
      await session.release();
      return { ms, usage };
    };
    const plain = await time({});
    const first = await time({ cache: true });
    const cached = await time({ cache: true });
    await modelCache.clear();
    return { before, plain, first, cached, after: memoryUsage() };
  }, `${models.url}/minilm`);
  const peak = result.plain.usage.peakHeapBytes - result.before.heapBytes;
  const grown = result.plain.usage.memoryBytes - result.before.memoryBytes;
  const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
  console.log(
    `minilm ${mb(size)} in Chromium: heap peak +${mb(peak)} (${(peak / size).toFixed(2)}x), wasm memory grew ` +
      `${mb(grown)} (${(grown / size).toFixed(2)}x); download+compile ${result.plain.ms.toFixed(0)} ms, ` +
      `${result.first.ms.toFixed(0)} ms storing in the cache, ${result.cached.ms.toFixed(0)} ms from the cache ` +
      '(the server sends 64 KiB every 2 ms)',
  );
  // On the lite engine, which decodes the model while its bytes are still there (so that a model
  // it refuses can go to tract): 2.05 times in Node (tests/node/memory.test.mjs).
  assert.ok(peak <= 2.15 * size, `the heap peaked ${mb(peak)} above its baseline, over 2.15 times the model's ${mb(size)}`);
  assert.ok(grown <= 2.15 * size, `wasm memory grew ${mb(grown)}, over 2.15 times the model's ${mb(size)}`);
  // Lazily created state (tract's per-thread scratch space for its first large product) stays.
  const left = result.after.heapBytes - result.before.heapBytes;
  assert.ok(left < 64 * 1024, `released sessions left ${left} bytes behind`);
  const fetched = models.requests.filter((r) => r === '/minilm').length;
  assert.equal(fetched, 2, 'the cached load made a request');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the page keeps painting and its timers keep running while a large model is built, and an abort part-way stops the build', async () => {
  const { page, problems } = await loadingPage();
  const result = await page.evaluate(async (url) => {
    const { InferenceSession, memoryUsage } = window.onnxlet;
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    await (await InferenceSession.create(new URL('/test-models/two_outputs.onnx', location.href))).release();
    memoryUsage();
    const baseline = memoryUsage().heapBytes;
    // Animation frames while the model (in memory: no download) is copied in and built.
    let frames = 0;
    let counting = true;
    const count = () => {
      frames++;
      if (counting) requestAnimationFrame(count);
    };
    requestAnimationFrame(count);
    // A 1 ms interval timer: timers (AbortSignal.timeout among them) must run between slices.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const built = [];
    const session = await InferenceSession.create(bytes, {
      onProgress: (e) => e.status === 'compile' && built.push({ progress: e.progress, frames, ticks }),
    });
    counting = false;
    clearInterval(timer);
    await session.release();
    // A create whose `abortAt(reports, abort)` sees each compile report: its outcome and reports.
    const abortDuring = async (abortAt) => {
      const controller = new AbortController();
      const compiles = [];
      const onProgress = (e) => {
        if (e.status !== 'compile') return;
        compiles.push(e.progress);
        abortAt(compiles.length, () => controller.abort());
      };
      const outcome = await InferenceSession.create(bytes, { signal: controller.signal, onProgress }).then(
        () => 'created',
        (e) => e.name,
      );
      return { outcome, compiles };
    };
    // Aborted by a timer that the first report sets.
    const byTimer = await abortDuring((n, abort) => n === 1 && setTimeout(abort, 0));
    // Aborted at the first report of a partly built model.
    const { outcome: aborted, compiles } = await abortDuring((n, abort) => n === 2 && abort());
    return { built, aborted, compiles, byTimer, heapAfterAbort: memoryUsage().heapBytes - baseline };
  }, `${models.url}/minilm`);
  const { built } = result;
  assert.ok(built.length >= 3, `minilm was built in ${built.length} slices`);
  assert.ok(built.at(-1).frames > built[0].frames, `no frame was painted while minilm was built: ${JSON.stringify(built)}`);
  assert.ok(built.at(-1).ticks > built[0].ticks, `no timer ran while minilm was built: ${JSON.stringify(built)}`);
  assert.equal(result.byTimer.outcome, 'AbortError', `a timer's abort was not honoured: ${result.byTimer.compiles}`);
  assert.ok(result.byTimer.compiles.at(-1) < 0.9, `the build went on after a timer's abort: ${result.byTimer.compiles}`);
  assert.equal(result.aborted, 'AbortError');
  assert.ok(result.compiles.length <= 3 && result.compiles.at(-1) < 0.9, `the build went on: ${result.compiles}`);
  assert.equal(result.heapAfterAbort, 0, 'the aborted load did not give its heap back');
  assert.deepEqual(problems, []);
});
