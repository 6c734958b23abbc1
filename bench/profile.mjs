// Where a runtime spends its time on one model, in Node: a V8 CPU profile of each phase (session
// create, first run, later runs, a second create), summarised as the functions with the most self time and, for
// onnxlet, by tract operator. Names of wasm functions come from the module's name section, which
// wasm-opt strips: `--wasm pkg/onnxlet_bg.wasm` runs the same build before wasm-opt (names kept).
//
//   node bench/profile.mjs <model> [--runtime onnxlet|ort] [--wasm FILE] [--runs N] [--top N] [--save DIR]
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { benchModels } from './models.mjs';
import { typedArray } from './harness.mjs';
import { modelsDir, root } from '../tests/support/models.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const modelName = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!modelName) {
  console.error('usage: node bench/profile.mjs <model> [--runtime onnxlet|ort] [--wasm FILE] [--runs N] [--top N] [--save DIR]');
  process.exit(2);
}
const runtimeName = flag('--runtime', 'onnxlet');
const runs = Number(flag('--runs', 10));
const top = Number(flag('--top', 15));
const saveDir = flag('--save', undefined);
const wasmFile = flag('--wasm', undefined);

const [model] = benchModels([modelName]);
const runtime =
  runtimeName === 'ort'
    ? await import('onnxruntime-web').then((ort) => {
        ort.env.wasm.numThreads = 1;
        return ort;
      })
    : await import(pathToFileURL(join(root, 'dist', 'onnxlet.mjs')).href).then(async (onnxlet) => {
        if (wasmFile) onnxlet.env.wasm.wasmBinary = await readFile(wasmFile);
        return onnxlet;
      });
const read = async (file) => new Uint8Array(await readFile(join(modelsDir, file)));
const bytes = await read(model.file);
const feeds = {};
for (const input of model.inputs) {
  feeds[input.name] = new runtime.Tensor(input.type, typedArray(input.type, await read(input.file)), input.dims);
}
const options = runtimeName === 'ort' ? { executionProviders: ['wasm'], logSeverityLevel: 3 } : {};

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });

/** Runs `f` under the profiler; prints its wall time and the top self-time functions. */
async function phase(name, f) {
  await session.post('Profiler.start');
  const started = performance.now();
  const value = await f();
  const ms = performance.now() - started;
  const { profile } = await session.post('Profiler.stop');
  if (saveDir) writeFileSync(join(saveDir, `${modelName}-${runtimeName}-${name.replace(/\W+/g, '_')}.cpuprofile`), JSON.stringify(profile));
  console.log(`\n${name}: ${ms.toFixed(1)} ms`);
  for (const [fn, share] of selfTime(profile).slice(0, top)) console.log(`  ${(share * 100).toFixed(1).padStart(5)}%  ${fn}`);
  const ops = byOperator(profile);
  if (ops.length > 1) {
    console.log('  by tract operator (inclusive):');
    for (const [op, share] of ops.slice(0, top)) console.log(`  ${(share * 100).toFixed(1).padStart(5)}%  ${op}`);
  }
  return value;
}

const OP_FRAME = /^<(?:[\w:]+::)?(\w+)(?:<[^>]*>)? as tract_core::ops::(?:EvalOp|OpState)>::(?:eval|eval_with_session|state)\b/;

/** [tract operator, share of samples]: each sample goes to the innermost operator evaluation on its stack. */
function byOperator(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map();
  const opOf = (id) => {
    if (memo.has(id)) return memo.get(id);
    const m = byId.get(id).callFrame.functionName.match(OP_FRAME);
    const p = parent.get(id);
    const op = m ? m[1] : p === undefined ? '(outside operators)' : opOf(p);
    memo.set(id, op);
    return op;
  };
  const counts = new Map();
  for (const id of profile.samples) counts.set(opOf(id), (counts.get(opOf(id)) ?? 0) + 1);
  const total = profile.samples.length || 1;
  return [...counts].map(([k, v]) => [k, v / total]).sort((a, b) => b[1] - a[1]);
}

/** [function, share of samples] by self time, largest first. */
function selfTime(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of profile.samples) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || `(anonymous ${callFrame.url.split('/').pop()}:${callFrame.lineNumber})`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const total = profile.samples.length || 1;
  return [...counts].map(([k, v]) => [k, v / total]).sort((a, b) => b[1] - a[1]);
}

const s = await phase('create', () => runtime.InferenceSession.create(bytes, options));
await phase('first run', () => s.run(feeds));
await phase(`${runs} more runs`, async () => {
  for (let i = 0; i < runs; i++) await s.run(feeds);
});
await s.release();
// A second creation, on a runtime already initialised and code the engine has optimised.
const again = await phase('warm create', () => runtime.InferenceSession.create(bytes, options));
await again.release();
process.exit(0);
