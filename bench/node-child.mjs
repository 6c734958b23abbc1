// One Node benchmark job in a fresh process (`node --expose-gc bench/node-child.mjs <job json>`):
// progress on stderr, the result as JSON on stdout.
import './probe.js';

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { benchDist } from './dist.mjs';
import { measure } from './harness.mjs';
import { modelsDir } from '../tests/support/models.mjs';

const job = JSON.parse(process.argv[2]);

async function loadRuntime(name) {
  if (name === 'ort') {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    return ort;
  }
  const onnxlet = await import(pathToFileURL(join(benchDist, 'onnxlet.mjs')).href);
  if (job.build && job.build !== 'auto') onnxlet.env.wasm.build = job.build;
  return onnxlet;
}

function checkpoint() {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { jsHeap: m.heapUsed, jsHeapTotal: m.heapTotal, rss: m.rss, external: m.external };
}

const read = async (file) => new Uint8Array(await readFile(join(modelsDir, file)));
const [runtime, model, ...inputs] = await Promise.all([
  loadRuntime(job.runtime),
  read(job.file),
  ...job.inputs.map((input) => read(input.file)),
]);
const log = (text) => process.stderr.write(`${text}\n`);
const result = await measure(runtime, job, { model, inputs }, { checkpoint, log });
// Exit once the result is flushed: onnxruntime-web may keep handles open.
process.stdout.write(`${JSON.stringify({ ...result, threads: 1 })}\n`, () => process.exit(0));
