// Loading a model over HTTP from a server on 127.0.0.1 that throttles, stalls, cuts the
// connection, omits Content-Length or serves wrong bytes (tests/support/flaky-server.mjs): progress events arrive in order,
// failures are clean errors, aborts reject with an AbortError, and integrity is checked.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';

import { InferenceSession, OnnxletError, env, modelCache } from 'onnxlet';

import { flakyServer } from '../support/flaky-server.mjs';
import { modelsDir, testModel } from '../support/models.mjs';

const model = readFileSync(join(modelsDir, 'magika', 'model.onnx'));
const CHUNK = 64 * 1024;
let server;
let base;

before(async () => {
  server = await flakyServer({ magika: join(modelsDir, 'magika', 'model.onnx') });
  base = `${server.url}/magika`;
});

after(() => server.close());

/** The statuses of `events` in order, repeats of one status counted once. */
const phases = (events) => events.map((e) => e.status).filter((s, i, all) => s !== all[i - 1]);

test('progress: download events at least every 1%, then compile, then ready', async () => {
  const events = [];
  const session = await InferenceSession.create(base, { onProgress: (e) => events.push(e) });
  assert.deepEqual(session.inputNames, ['bytes']);
  const downloads = events.filter((e) => e.status === 'download');
  assert.deepEqual(phases(events.slice(downloads.length)), ['compile', 'ready']);
  // Compile events report the build, from 0, rising, below 1 (ready says it is done).
  const compiles = events.filter((e) => e.status === 'compile');
  assert.equal(compiles[0].progress, 0);
  for (const [i, e] of compiles.entries()) {
    assert.deepEqual([e.loaded, e.total], [model.length, model.length]);
    assert.ok(e.progress < 1 && (i === 0 || e.progress >= compiles[i - 1].progress), JSON.stringify(compiles));
  }
  assert.ok(downloads.length >= 40, `only ${downloads.length} download events`);
  assert.equal(downloads[0].loaded, 0);
  for (const [i, e] of downloads.entries()) {
    assert.equal(e.total, model.length);
    assert.equal(e.progress, e.loaded / model.length);
    if (i > 0) {
      assert.ok(e.loaded >= downloads[i - 1].loaded, 'loaded went backwards');
      assert.ok(e.loaded - downloads[i - 1].loaded <= 0.01 * model.length + CHUNK, 'a gap of more than 1% and a chunk');
    }
  }
  assert.equal(downloads.at(-1).loaded, model.length);
  assert.deepEqual(events.at(-1), { status: 'ready', loaded: model.length, total: model.length, progress: 1 });
});

test('without Content-Length, total is undefined and the body still loads', async () => {
  const events = [];
  const session = await InferenceSession.create(`${base}?length=0`, { onProgress: (e) => events.push(e) });
  assert.deepEqual(session.outputNames, ['target_label']);
  const downloads = events.filter((e) => e.status === 'download');
  assert.ok(downloads.every((e) => e.total === undefined && e.progress === undefined));
  assert.equal(downloads.at(-1).loaded, model.length);
});

test('a connection cut mid-body is FETCH_FAILED', async () => {
  await assert.rejects(InferenceSession.create(`${base}?cut=${model.length / 2}`), (e) => {
    assert.ok(e instanceof OnnxletError);
    assert.equal(e.code, 'FETCH_FAILED');
    assert.match(e.message, /cut=/);
    return true;
  });
});

test('abort during a download, and during a stalled one, rejects with an AbortError', async () => {
  const controller = new AbortController();
  let aborted = false;
  const onProgress = (e) => {
    if (e.status === 'download' && e.loaded > model.length / 4 && !aborted) {
      aborted = true;
      controller.abort();
    }
  };
  await assert.rejects(InferenceSession.create(base, { onProgress, signal: controller.signal }), {
    name: 'AbortError',
  });
  const stalled = new AbortController();
  setTimeout(() => stalled.abort(), 200);
  const started = Date.now();
  await assert.rejects(InferenceSession.create(`${base}?stall`, { signal: stalled.signal }), { name: 'AbortError' });
  assert.ok(Date.now() - started < 5000, 'abort of a stalled download took too long');
  const already = AbortSignal.abort();
  await assert.rejects(InferenceSession.create(base, { signal: already }), { name: 'AbortError' });
  assert.ok(await InferenceSession.create(base));
});

test('integrity: a matching sha256 loads; a mismatch is INTEGRITY_MISMATCH; a malformed value is INVALID_ARGUMENT', async () => {
  const digest = createHash('sha256').update(model).digest('base64');
  assert.ok(await InferenceSession.create(base, { integrity: `sha256-${digest}` }));
  await assert.rejects(InferenceSession.create(base, { integrity: `sha256-${'A'.repeat(43)}=` }), {
    code: 'INTEGRITY_MISMATCH',
    message: new RegExp(`got sha256-${digest.replace(/[+/]/g, '\\$&')}`),
  });
  await assert.rejects(InferenceSession.create(base, { integrity: 'md5-abc' }), { code: 'INVALID_ARGUMENT' });
});

test('wrong bytes are INVALID_MODEL; a 403 is FETCH_FAILED; headers are sent', async () => {
  await assert.rejects(InferenceSession.create(`${base}?garbage`), { code: 'INVALID_MODEL' });
  await assert.rejects(InferenceSession.create(`${base}?token=secret`), { code: 'FETCH_FAILED', message: /HTTP 403/ });
  assert.ok(await InferenceSession.create(`${base}?token=secret`, { headers: { 'x-token': 'secret' } }));
});

test('a Blob reports progress against its size; a ReadableStream loads without a total', async () => {
  const events = [];
  await InferenceSession.create(new Blob([model]), { onProgress: (e) => events.push(e) });
  const downloads = events.filter((e) => e.status === 'download');
  assert.ok(downloads.every((e) => e.total === model.length));
  assert.equal(downloads.at(-1).loaded, model.length);
  const small = readFileSync(testModel('two_outputs.onnx'));
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new Uint8Array(small.subarray(0, 10)));
      controller.enqueue(new Uint8Array(small.subarray(10)));
      controller.close();
    },
  });
  const session = await InferenceSession.create(stream);
  assert.deepEqual(session.outputNames, ['doubled', 'negated']);
});

test('cache: the second create of a URL makes no request; entries can be listed and deleted', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'onnxlet-cache-'));
  env.cache.directory = directory;
  try {
    const url = `${base}?length=0`;
    const count = () => server.requests.filter((p) => p === '/magika?length=0').length;
    const before = count();
    const first = await InferenceSession.create(url, { cache: true });
    assert.equal(count(), before + 1);
    assert.deepEqual(await modelCache.list(), [{ url, bytes: model.length }]);
    const events = [];
    const second = await InferenceSession.create(url, { cache: true, onProgress: (e) => events.push(e.status) });
    assert.equal(count(), before + 1, 'the cached model was fetched again');
    assert.deepEqual(phases(events.map((status) => ({ status }))), ['download', 'compile', 'ready']);
    assert.deepEqual(second.inputMetadata, first.inputMetadata);
    // A model whose integrity fails is neither loaded nor cached.
    await assert.rejects(InferenceSession.create(base, { cache: true, integrity: `sha256-${'A'.repeat(43)}=` }), {
      code: 'INTEGRITY_MISMATCH',
    });
    assert.equal((await modelCache.list()).length, 1);
    assert.equal(await modelCache.delete(url), true);
    assert.equal(await modelCache.delete(url), false);
    await InferenceSession.create(url, { cache: true });
    assert.equal(count(), before + 2);
    await modelCache.clear();
    assert.deepEqual(await modelCache.list(), []);
    await assert.rejects(InferenceSession.create(new Uint8Array(model), { cache: true }), {
      code: 'INVALID_ARGUMENT',
      message: /http\(s\) URL/,
    });
  } finally {
    env.cache.directory = undefined;
    rmSync(directory, { recursive: true, force: true });
  }
});

test('worker: true says clearly that Node has no Web Workers', async () => {
  await assert.rejects(InferenceSession.create(testModel('two_outputs.onnx'), { worker: true }), {
    code: 'INVALID_ARGUMENT',
    message: /worker: true needs Web Workers.*worker_threads/,
  });
});

test('a file: URL, as a string or a URL, reads the file', async () => {
  const path = join(modelsDir, 'magika', 'model.onnx');
  for (const source of [pathToFileURL(path).href, pathToFileURL(path)]) {
    const session = await InferenceSession.create(source);
    assert.deepEqual(session.inputNames, ['bytes']);
  }
});
