// One cold start (bench/cold-start.mjs): in a fresh Node, Deno or Bun process, import a runtime,
// read one model and its input from the model cache, create a session, run once, and print the
// first output's element count; the parent times the process from its spawn to that line.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { typedArray } from '../tests/support/compare.mjs';

const [runtimeName, distDir, modelsDir, jobJson] = process.argv.slice(2);
const job = JSON.parse(jobJson);
const runtime =
  runtimeName === 'ort' ? await import('onnxruntime-web') : await import(new URL(`file://${join(distDir, 'onnxlet.mjs')}`).href);
if (runtimeName === 'ort') {
  runtime.env.wasm.numThreads = 1;
  runtime.env.logLevel = 'error';
}
const read = async (file) => new Uint8Array(await readFile(join(modelsDir, file)));
const [model, ...inputs] = await Promise.all([read(job.file), ...job.inputs.map((i) => read(i.file))]);
const session = await runtime.InferenceSession.create(model);
const feeds = Object.fromEntries(
  job.inputs.map((input, i) => [input.name, new runtime.Tensor(input.type, typedArray(input.type, inputs[i]), input.dims)]),
);
const outputs = await session.run(feeds);
const first = Object.values(outputs)[0];
process.stdout.write(`result ${first.data.length}\n`, () => process.exit(0));
