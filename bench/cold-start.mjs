// Cold start per JS runtime: process start to the first result of one model, onnxlet (default
// routing) against onnxruntime-web (wasm, one thread), in Node, Deno and Bun, interleaved and
// repeated; the median of each. Not part of `npm run bench` (its numbers are per process):
//
//   node bench/cold-start.mjs [--models magika,squeezenet] [--starts 7]
//
// Workers and WASI hosts have their own: bench/workerd.mjs, bench/wasi.py.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { benchModels } from './models.mjs';
import { modelsDir, root } from '../tests/support/models.mjs';
import { ensureDeno } from '../scripts/setup.mjs';

const { values } = parseArgs({
  options: { models: { type: 'string', default: 'magika,squeezenet' }, starts: { type: 'string', default: '7' } },
});
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'onnxlet.mjs'))) throw new Error('dist/ has no build: run npm run build first');
const runtimes = {
  node: [process.execPath],
  deno: [ensureDeno(), 'run', '--allow-read', '--allow-env'],
  bun: [join(root, 'node_modules', '.bin', 'bun')],
};

function start(command, args) {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let at;
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (at === undefined && out.includes('result ')) at = performance.now() - began;
    });
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => (at === undefined ? reject(new Error(`exit ${code}: ${err.slice(-400)}`)) : resolve(at)));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const starts = Number(values.starts);
const rows = [];
for (const model of benchModels(values.models.split(','))) {
  const job = JSON.stringify({ file: model.file, inputs: model.inputs });
  const times = {};
  for (let k = 0; k < starts; k++) {
    for (const [runtime, [command, ...pre]] of Object.entries(runtimes)) {
      for (const engine of ['onnxlet', 'ort']) {
        const args = [...pre, join(root, 'bench', 'cold-child.mjs'), engine, dist, modelsDir, job];
        (times[`${runtime} ${engine}`] ??= []).push(await start(command, args));
      }
    }
  }
  for (const runtime of Object.keys(runtimes)) {
    const onnxlet = median(times[`${runtime} onnxlet`]);
    const ort = median(times[`${runtime} ort`]);
    rows.push(`| ${model.name} | ${runtime} | ${onnxlet.toFixed(0)} | ${ort.toFixed(0)} | ${(onnxlet / ort).toFixed(2)} |`);
  }
}
console.log(`\ncold start, process start to first result, median of ${starts} (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
console.log('| model | runtime | onnxlet (ms) | onnxruntime-web (ms) | ratio |');
console.log('|---|---|---:|---:|---:|');
for (const row of rows) console.log(row);
