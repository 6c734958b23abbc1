// A fast inner loop for kernel work (not `npm run bench`): the median run of each model on each
// given onnxlet module, in Node at one thread, the modules taking turns per model, and with
// --ort onnxruntime-web's beside them. A change's effect shows as the ratio of two modules'
// medians measured minutes apart on the same machine; `npm run bench` remains the measurement.
//
//   node bench/ab.mjs --models squeezenet,magika [--runs 20] [--ort] before.wasm after.wasm
//
// A module is a lite (or tract) build's .wasm, e.g. a copy of pkg/lite/onnxlet_bg.opt.wasm
// from before a change; relaxed-SIMD modules need `node --experimental-wasm-relaxed-simd` on
// Node 20.
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { typedArray } from './harness.mjs';
import { benchModels } from './models.mjs';
import { modelsDir, root } from '../tests/support/models.mjs';

const { values: opts, positionals: modules } = parseArgs({
  allowPositionals: true,
  options: { models: { type: 'string' }, runs: { type: 'string', default: '20' }, ort: { type: 'boolean', default: false } },
});
if (!opts.models || modules.length === 0) {
  console.error('usage: node bench/ab.mjs --models a,b [--runs N] [--ort] MODULE.wasm...');
  process.exit(2);
}
const runs = Number(opts.runs);
const onnxlet = await import(pathToFileURL(join(root, 'dist', 'onnxlet.mjs')).href);
const ort = opts.ort ? await import('onnxruntime-web') : undefined;
if (ort) ort.env.wasm.numThreads = 1;
const read = async (file) => new Uint8Array(await readFile(join(modelsDir, file)));
const median = (t) => t.sort((a, b) => a - b)[t.length >> 1];

/** The median of `runs` runs of `model` on `runtime` after one untimed run. */
async function time(runtime, model, options) {
  const feeds = {};
  for (const input of model.inputs) {
    feeds[input.name] = new runtime.Tensor(input.type, typedArray(input.type, await read(input.file)), input.dims);
  }
  const session = await runtime.InferenceSession.create(await read(model.file), options);
  await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await session.run(feeds);
    times.push(performance.now() - started);
  }
  await session.release();
  return median(times);
}

const codes = await Promise.all(modules.map((m) => readFile(m)));
console.log(['model', ...modules.map((m) => basename(m)), ...(ort ? ['onnxruntime-web'] : [])].join('\t'));
for (const model of benchModels(opts.models.split(','))) {
  const row = [];
  for (const code of codes) {
    onnxlet.env.wasm.wasmBinary = code;
    row.push(await time(onnxlet, model, {}));
  }
  if (ort) row.push(await time(ort, model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 }));
  console.log([model.name, ...row.map((ms) => ms.toFixed(2))].join('\t'));
}
