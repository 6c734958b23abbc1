// `node bench/workerd.mjs [--starts N] [--runs N]`: examples/cloudflare-worker in workerd on
// 127.0.0.1 (tests/support/workerd.mjs bundles and serves it as the Workers test does), against
// onnxlet in Node on the same input: the upload size (gzip), workerd's start, the cold request
// (model fetched from 127.0.0.1, session created, first run) and the warm ones. Not part of
// `npm run bench`; prints a Markdown table.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ensureNpmDeps, fetchModels } from '../scripts/setup.mjs';

const { values } = parseArgs({ options: { starts: { type: 'string', default: '3' }, runs: { type: 'string', default: '30' } } });
const [starts, runs] = [Number(values.starts), Number(values.runs)];
ensureNpmDeps();
fetchModels();
const { installExample, removeExamples } = await import('../tests/support/examples.mjs');
const { features, magikaDir } = await import('../tests/support/magika.mjs');
const { root } = await import('../tests/support/models.mjs');
const { bundleWorker, serveFiles, startWorkerd } = await import('../tests/support/workerd.mjs');
const { InferenceSession, Tensor } = await import('onnxlet');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const input = readFileSync(join(root, 'README.md'));

async function timed(f) {
  const started = performance.now();
  await f();
  return performance.now() - started;
}

const example = await installExample('cloudflare-worker');
try {
  const bundle = await bundleWorker(join(example, 'src', 'worker.js'), join(example, 'workerd', 'magika'));
  const files = await serveFiles((path) => join(magikaDir, path));
  const post = async (url) => {
    const response = await fetch(url, { method: 'POST', body: input });
    if (!response.ok) throw new Error(await response.text());
    await response.json();
  };
  const workerd = { start: [], cold: [], warm: [] };
  for (let i = 0; i < starts; i++) {
    const server = await startWorkerd(join(example, 'workerd'), { magika: { bundle, bindings: { MAGIKA_URL: files.url } } });
    try {
      workerd.start.push(server.startMs);
      workerd.cold.push(await timed(() => post(server.urls.magika)));
      for (let r = 0; r < runs; r++) workerd.warm.push(await timed(() => post(server.urls.magika)));
    } finally {
      server.stop();
    }
  }
  files.server.close();

  // Node, in this process: the same model bytes, the same input.
  const node = { cold: [], warm: [] };
  const model = readFileSync(join(magikaDir, 'model.onnx'));
  const feed = Int32Array.from(features(input));
  let session;
  node.cold.push(await timed(async () => {
    session = await InferenceSession.create(model);
    await session.run({ bytes: new Tensor('int32', feed, [1, feed.length]) });
  }));
  for (let r = 0; r < runs * starts; r++) {
    node.warm.push(await timed(() => session.run({ bytes: new Tensor('int32', feed, [1, feed.length]) })));
  }

  const ms = (x) => `${Math.round(x)} ms`;
  const upload = bundle.gzip['worker.js'] + bundle.gzip['onnxlet_lite_bg.wasm'];
  console.log(`Upload (gzip -9): worker.js ${bundle.gzip['worker.js']} B + onnxlet_lite_bg.wasm ${bundle.gzip['onnxlet_lite_bg.wasm']} B = ${upload} B (free plan: 3 MB)\n`);
  console.log('| | start to listening | cold request: model fetched, session created, first run | warm request (median, min) |');
  console.log('|---|---|---|---|');
  console.log(`| workerd (${starts} starts, ${runs} warm each) | ${ms(median(workerd.start))} | ${ms(median(workerd.cold))} | ${ms(median(workerd.warm))}, ${ms(Math.min(...workerd.warm))} |`);
  console.log(`| Node, in process (create from bytes; run only) | | ${ms(node.cold[0])} | ${ms(median(node.warm))}, ${ms(Math.min(...node.warm))} |`);
} finally {
  removeExamples();
}
