// The gap inside tract's kernels, reduced to one operator: a MatMul of MiniLM's feed-forward size
// and a ResNet-stage 3x3 Conv, each timed alone in Node with onnxlet and onnxruntime-web (wasm,
// SIMD, 1 thread), on the same seeded model and input. What this measures is the matrix-product
// kernel each runtime compiles to wasm: onnxlet's is its own (src/engine/gemm.rs, registered with
// tract-linalg), onnxruntime-web's is MLAS.
//
//   python3 bench/kernel-models.py && node bench/kernel-gap.mjs [--runs N]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { root } from '../tests/support/models.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 30);
const dir = join(root, '.cache', 'bench', 'kernels');
const cases = [
  { name: 'matmul', file: 'matmul.onnx', input: 'x', dims: [128, 384], flops: 2 * 128 * 384 * 1536 },
  { name: 'conv', file: 'conv.onnx', input: 'x', dims: [1, 64, 56, 56], flops: 2 * 64 * 64 * 9 * 56 * 56 },
];

const onnxlet = await import(pathToFileURL(process.env.ONNXLET_DIST ?? join(root, 'dist', 'onnxlet.mjs')).href);
const ort = await import('onnxruntime-web');
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

function seeded(n) {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

async function time(runtime, c) {
  const session = await runtime.InferenceSession.create(new Uint8Array(readFileSync(join(dir, c.file))));
  const data = seeded(c.dims.reduce((a, b) => a * b, 1));
  const feeds = { [c.input]: new runtime.Tensor('float32', data, c.dims) };
  let out;
  for (let i = 0; i < 3; i++) out = await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], output: Object.values(out)[0].data };
}

console.log(`| operator | onnxruntime-web ms (GFLOP/s) | onnxlet ms (GFLOP/s) | ratio onnxlet ÷ ort | max abs diff |`);
console.log(`|---|---:|---:|---:|---:|`);
for (const c of cases) {
  const o = await time(ort, c);
  const l = await time(onnxlet, c);
  let diff = 0;
  for (let i = 0; i < o.output.length; i++) diff = Math.max(diff, Math.abs(o.output[i] - l.output[i]));
  const gflops = (ms) => (c.flops / ms / 1e6).toFixed(1);
  console.log(
    `| ${c.name} | ${o.median.toFixed(2)} (${gflops(o.median)}) | ${l.median.toFixed(2)} (${gflops(l.median)}) | ${(l.median / o.median).toFixed(2)} | ${diff.toExponential(1)} |`,
  );
}
process.exit(0);
