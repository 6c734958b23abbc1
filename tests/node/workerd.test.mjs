// Cloudflare Workers: examples/cloudflare-worker, bundled the way wrangler bundles it (esbuild, each
// `.wasm` import a CompiledWasm module), from a fresh `npm pack` of the build, served by workerd
// (Cloudflare's runtime, from npm) on 127.0.0.1. It labels files POSTed to it with magika, whose
// files it fetches from a server of this test; the labels are checked against magika's labelling
// (onnxruntime-web in Node) and the scores against onnxlet's in Node. Probe workers, one isolate
// per `env.wasm` setting, check the errors and the engines of `env.wasm.wasmBinary`.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { InferenceSession, Tensor } from 'onnxlet';

import { installExample, removeExamples } from '../support/examples.mjs';
import { config, features, magikaDir, reference } from '../support/magika.mjs';
import { root, testModel } from '../support/models.mjs';
import { bundleWorker, serveFiles, startWorkerd } from '../support/workerd.mjs';

const FILES = { 'scripts/fetch-models.py': 'python', 'README.md': 'markdown', 'src/lib.rs': 'rust' };

/** The probe workers: what each sets before its first session (`lite`, `tract`: the imported modules). */
const PROBES = {
  nothing: '',
  bytes: 'env.wasm.wasmBinary = new Uint8Array(await (await fetch(new URL("/lite.wasm", files))).arrayBuffer());',
  lite: 'env.wasm.wasmBinary = { lite };',
  both: 'env.wasm.wasmBinary = { lite, tract };',
  tractOnly: "env.wasm.wasmBinary = { lite, tract }; env.wasm.build = 'tract';",
  swapped: 'env.wasm.wasmBinary = { lite: tract };',
  tractBuild: "env.wasm.wasmBinary = { lite }; env.wasm.build = 'tract';",
};

const PROBE_SOURCE = `
import { InferenceSession, Tensor, env } from 'onnxlet';
import lite from 'onnxlet/onnxlet_lite_bg.wasm';
import tract from 'onnxlet/onnxlet_bg.wasm';
let ready;
export default {
  async fetch(request, { SETUP, FILES: files }) {
    ready ??= ({ ${Object.entries(PROBES).map(([name, code]) => `${name}: async () => { ${code} }`).join(', ')} })[SETUP]();
    try {
      await ready;
      const session = await InferenceSession.create(new Uint8Array(await request.arrayBuffer()));
      const feeds = Object.fromEntries(session.inputMetadata.map((m) => [m.name, new Tensor('float32', [1, 2, 3, 4], [2, 2])]));
      const outputs = session.inputNames[0] === 'x' ? await session.run(feeds) : {};
      return Response.json({ engine: session.engine, outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, [...v.data]])) });
    } catch (error) {
      return Response.json({ code: error.code ?? error.name, message: error.message });
    }
  },
};`;

let magika;
let workerd;
let files;
let urls;

/** POSTs `body` to a worker; resolves to the JSON answer and how long it took (ms). */
async function post(url, body) {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', body });
  const text = await response.text();
  const ms = performance.now() - started;
  try {
    return { status: response.status, json: JSON.parse(text), ms };
  } catch {
    assert.fail(`${url}: HTTP ${response.status}, not JSON: ${text}`);
  }
}

before(async () => {
  const example = await installExample('cloudflare-worker');
  writeFileSync(join(example, 'probe.js'), PROBE_SOURCE);
  magika = await bundleWorker(join(example, 'src', 'worker.js'), join(example, 'workerd', 'magika'));
  const probe = await bundleWorker(join(example, 'probe.js'), join(example, 'workerd', 'probe'));
  // The magika files, and the lite module's bytes, as a static host serves them.
  files = await serveFiles((path) => (path === '/lite.wasm' ? join(root, 'dist', 'onnxlet_lite_bg.wasm') : join(magikaDir, path)));
  workerd = await startWorkerd(join(example, 'workerd'), {
    magika: { bundle: magika, bindings: { MAGIKA_URL: files.url } },
    ...Object.fromEntries(Object.keys(PROBES).map((p) => [p, { bundle: probe, bindings: { SETUP: p, FILES: files.url } }])),
  });
  urls = workerd.urls;
});

after(() => {
  workerd?.stop();
  files?.server.close();
  removeExamples();
});

test('examples/cloudflare-worker labels files in workerd as magika does, with the scores of Node', async (t) => {
  const contents = Object.keys(FILES).map((f) => new Uint8Array(readFileSync(join(root, f))));
  const expected = await reference(contents);
  const node = await InferenceSession.create(join(magikaDir, 'model.onnx'));
  const times = [];
  for (const [i, file] of Object.keys(FILES).entries()) {
    const { status, json, ms } = await post(urls.magika, contents[i]);
    times.push(ms);
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.label, FILES[file], file);
    assert.equal(json.label, expected[i].label, file);
    assert.equal(json.dlLabel, expected[i].dlLabel, file);
    // The same lite module in the same engine (V8): the same scores as onnxlet in Node, to the bit.
    const input = Int32Array.from(features(contents[i]));
    const { target_label: out } = await node.run({ bytes: new Tensor('int32', input, [1, input.length]) });
    assert.equal(json.score, Math.max(...out.data), file);
    assert.equal(config.target_labels_space[out.data.indexOf(Math.max(...out.data))], json.dlLabel);
  }
  const tiny = await post(urls.magika, 'hi!\n');
  assert.deepEqual(tiny.json, { label: 'txt', dlLabel: null, score: null });
  const { gzip } = magika;
  const upload = gzip['worker.js'] + gzip['onnxlet_lite_bg.wasm'];
  t.diagnostic(
    `upload (gzip -9): worker.js ${gzip['worker.js']} B + onnxlet_lite_bg.wasm ${gzip['onnxlet_lite_bg.wasm']} B = ${upload} B ` +
      `(free tier 3 MB); workerd start ${Math.round(workerd.startMs)} ms; first request (model fetched, session created) ` +
      `${Math.round(times[0])} ms; then ${times.slice(1).map(Math.round).join(', ')} ms`,
  );
  assert.ok(upload < 3_000_000, `the worker's upload is ${upload} bytes gzip, over the free tier's 3 MB`);
});

test('workerd: without env.wasm.wasmBinary, WASM_LOAD_FAILED says to hand the module over', async () => {
  const { json } = await post(urls.nothing, readFileSync(testModel('two_outputs.onnx')));
  assert.equal(json.code, 'WASM_LOAD_FAILED', json.message);
  assert.match(json.message, /import\.meta\.url is not set in this runtime .*env\.wasm\.wasmBinary = \{ lite \}/);
});

test('workerd: module bytes in env.wasm.wasmBinary fail with WASM_LOAD_FAILED naming the way', async () => {
  const { json } = await post(urls.bytes, readFileSync(testModel('two_outputs.onnx')));
  assert.equal(json.code, 'WASM_LOAD_FAILED', json.message);
  assert.match(json.message, /code generation disallowed.*compiles no WebAssembly from bytes.*env\.wasm\.wasmBinary = \{ lite \}/);
  assert.doesNotMatch(json.message, /needs WebAssembly SIMD/);
});

test('workerd: { lite } runs what lite runs and refuses the rest with UNSUPPORTED_OPERATOR', async () => {
  const ok = await post(urls.lite, readFileSync(testModel('two_outputs.onnx')));
  assert.deepEqual(ok.json, { engine: 'lite', outputs: { doubled: [2, 4, 6, 8], negated: [-1, -2, -3, -4] } });
  const refused = await post(urls.lite, readFileSync(testModel('all_dtypes.onnx')));
  assert.equal(refused.json.code, 'UNSUPPORTED_OPERATOR', refused.json.message);
  // The message says why the tract engine was not tried, and how to give it.
  assert.match(refused.json.message, /env\.wasm\.wasmBinary gives no tract module, so the tract engine was not tried: import onnxlet\/onnxlet_bg\.wasm too and set env\.wasm\.wasmBinary = \{ lite, tract \}/);
});

test('workerd: { lite, tract } routes a model lite cannot run to the tract module, which runs there', async () => {
  const tract = await post(urls.both, readFileSync(testModel('all_dtypes.onnx')));
  assert.equal(tract.json.engine, 'tract', JSON.stringify(tract.json));
  const lite = await post(urls.both, readFileSync(testModel('two_outputs.onnx')));
  assert.equal(lite.json.engine, 'lite', JSON.stringify(lite.json));
  const forced = await post(urls.tractOnly, readFileSync(testModel('two_outputs.onnx')));
  assert.deepEqual(forced.json, { engine: 'tract', outputs: { doubled: [2, 4, 6, 8], negated: [-1, -2, -3, -4] } });
});

test('workerd: a module given under the wrong engine, or a build not given, is INVALID_ARGUMENT', async () => {
  const swapped = await post(urls.swapped, readFileSync(testModel('two_outputs.onnx')));
  assert.equal(swapped.json.code, 'INVALID_ARGUMENT', swapped.json.message);
  assert.match(swapped.json.message, /env\.wasm\.wasmBinary\.lite is not the lite engine's module/);
  const missing = await post(urls.tractBuild, readFileSync(testModel('two_outputs.onnx')));
  assert.equal(missing.json.code, 'INVALID_ARGUMENT', missing.json.message);
  assert.match(missing.json.message, /env\.wasm\.build is 'tract', whose module env\.wasm\.wasmBinary does not give \(it gives lite\)/);
});
