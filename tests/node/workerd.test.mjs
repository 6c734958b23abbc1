// Cloudflare Workers: examples/cloudflare-worker, bundled the way wrangler bundles it (esbuild, each
// `.wasm` import a CompiledWasm module), from a fresh `npm pack` of the build, served by workerd
// (Cloudflare's runtime, from npm) on 127.0.0.1. It labels files POSTed to it with magika, whose
// files it fetches from a server of this test; the labels are checked against magika's labelling
// (onnxruntime-web in Node) and the scores against onnxlet's in Node. Probe workers, one isolate
// per `env.wasm` setting, check the errors and the engines of `env.wasm.wasmBinary`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { InferenceSession, Tensor } from 'onnxlet';

import { installExample, removeExamples } from '../support/examples.mjs';
import { config, features, magikaDir, reference } from '../support/magika.mjs';
import { root, testModel } from '../support/models.mjs';

const FILES = { 'scripts/fetch-models.py': 'python', 'README.md': 'markdown', 'src/lib.rs': 'rust' };

/** The probe workers: what each sets before its first session (`lite`, `tract`: the imported modules). */
const PROBES = {
  nothing: '',
  bytes: 'env.wasm.wasmBinary = new Uint8Array(await (await fetch(new URL("/lite.wasm", files))).arrayBuffer());',
  lite: 'env.wasm.wasmBinary = { lite };',
  both: 'env.wasm.wasmBinary = { lite, tract };',
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

let work;
let workerd;
let files;
const urls = {};
const sizes = {};

/** Bundles `entry` as wrangler does: one ES module, each `.wasm` import left as a module of its own. */
async function bundle(entry, outdir) {
  const esbuild = await import('esbuild');
  const wasm = new Map();
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    logLevel: 'error',
    outfile: join(outdir, 'worker.js'),
    plugins: [
      {
        name: 'compiled-wasm',
        setup(build) {
          build.onResolve({ filter: /\.wasm$/ }, async ({ path, resolveDir, pluginData }) => {
            if (pluginData === 'wasm') return undefined;
            const { path: file } = await build.resolve(path, { resolveDir, kind: 'import-statement', pluginData: 'wasm' });
            const name = file.split('/').at(-1);
            wasm.set(name, file);
            return { path: `./${name}`, external: true };
          });
        },
      },
    ],
  });
  for (const [name, file] of wasm) writeFileSync(join(outdir, name), readFileSync(file));
  return ['worker.js', ...wasm.keys()];
}

/** A port free now on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** A capnp worker of `modules` (files in `dir`): `.js` ES modules, `.wasm` CompiledWasm ones. */
const worker = (dir, modules, bindings) => `(
  modules = [${modules
    .map((m) => `(name = "${m}", ${m.endsWith('.wasm') ? 'wasm' : 'esModule'} = embed "${dir}/${m}")`)
    .join(', ')}],
  bindings = [${Object.entries(bindings).map(([k, v]) => `(name = "${k}", text = ${JSON.stringify(v)})`).join(', ')}],
  compatibilityDate = "2025-09-01",
  globalOutbound = "loopback",
)`;

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
  work = join(example, 'workerd');
  mkdirSync(join(work, 'magika'), { recursive: true });
  mkdirSync(join(work, 'probe'), { recursive: true });
  const magikaModules = await bundle(join(example, 'src', 'worker.js'), join(work, 'magika'));
  writeFileSync(join(example, 'probe.js'), PROBE_SOURCE);
  const probeModules = await bundle(join(example, 'probe.js'), join(work, 'probe'));
  for (const m of magikaModules) sizes[m] = gzipSync(readFileSync(join(work, 'magika', m)), { level: 9 }).length;

  // The magika files, and the lite module's bytes, as a static host would serve them.
  files = createServer((req, res) => {
    const path = req.url === '/lite.wasm' ? join(root, 'dist', 'onnxlet_lite_bg.wasm') : join(magikaDir, req.url.slice(1));
    try {
      res.end(readFileSync(path));
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise((resolve) => files.listen(0, '127.0.0.1', resolve));
  const filesUrl = `http://127.0.0.1:${files.address().port}/`;

  const names = ['magika', ...Object.keys(PROBES)];
  const ports = {};
  for (const name of names) ports[name] = await freePort();
  const services = [
    `(name = "magika", worker = ${worker('magika', magikaModules, { MAGIKA_URL: filesUrl })})`,
    ...Object.keys(PROBES).map((p) => `(name = "${p}", worker = ${worker('probe', probeModules, { SETUP: p, FILES: filesUrl })})`),
    '(name = "loopback", network = (allow = ["local"]))',
  ];
  const sockets = names.map((n) => `(name = "${n}", address = "127.0.0.1:${ports[n]}", http = (), service = "${n}")`);
  writeFileSync(
    join(work, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";\nconst config :Workerd.Config = (\n  services = [\n    ${services.join(',\n    ')}\n  ],\n  sockets = [\n    ${sockets.join(',\n    ')}\n  ],\n);\n`,
  );
  const started = performance.now();
  workerd = spawn(join(root, 'node_modules', '.bin', 'workerd'), ['serve', 'config.capnp'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  workerd.stdout.on('data', (d) => (log += d));
  workerd.stderr.on('data', (d) => (log += d));
  for (const name of names) urls[name] = `http://127.0.0.1:${ports[name]}/`;
  for (;;) {
    if (workerd.exitCode !== null) throw new Error(`workerd exited with ${workerd.exitCode}:\n${log}`);
    if (await fetch(urls.magika).then(() => true, () => false)) break;
    if (performance.now() - started > 60_000) throw new Error(`workerd did not answer within 60 s:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  sizes.startMs = performance.now() - started;
});

after(async () => {
  workerd?.kill();
  files?.close();
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
  const upload = sizes['worker.js'] + sizes['onnxlet_lite_bg.wasm'];
  t.diagnostic(
    `upload (gzip -9): worker.js ${sizes['worker.js']} B + onnxlet_lite_bg.wasm ${sizes['onnxlet_lite_bg.wasm']} B = ${upload} B ` +
      `(free tier 3 MB); workerd start ${Math.round(sizes.startMs)} ms; first request (model fetched, session created) ` +
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
});

test('workerd: { lite, tract } routes a model lite cannot run to the tract module', async () => {
  const tract = await post(urls.both, readFileSync(testModel('all_dtypes.onnx')));
  assert.equal(tract.json.engine, 'tract', JSON.stringify(tract.json));
  const lite = await post(urls.both, readFileSync(testModel('two_outputs.onnx')));
  assert.equal(lite.json.engine, 'lite', JSON.stringify(lite.json));
});

test('workerd: a module given under the wrong engine, or a build not given, is INVALID_ARGUMENT', async () => {
  const swapped = await post(urls.swapped, readFileSync(testModel('two_outputs.onnx')));
  assert.equal(swapped.json.code, 'INVALID_ARGUMENT', swapped.json.message);
  assert.match(swapped.json.message, /env\.wasm\.wasmBinary\.lite is not the lite engine's module/);
  const missing = await post(urls.tractBuild, readFileSync(testModel('two_outputs.onnx')));
  assert.equal(missing.json.code, 'INVALID_ARGUMENT', missing.json.message);
  assert.match(missing.json.message, /env\.wasm\.build is 'tract', whose module env\.wasm\.wasmBinary does not give \(it gives lite\)/);
});
