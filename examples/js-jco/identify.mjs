// Labels files with Google's magika model run by onnxlet's WebAssembly component, transpiled to
// JS by jco (`npm run transpile` first): `node identify.mjs FILE...` prints
// `FILE: LABEL (SCORE)`, the model's own prediction (the magika package also applies per-type
// confidence thresholds). MAGIKA_DIR names the model's directory (default: the test cache's).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { inference } from './component/onnxlet.js';

const files = process.argv.slice(2);
const modelDir = process.env.MAGIKA_DIR ?? fileURLToPath(new URL('../../.cache/models/magika', import.meta.url));
if (files.length === 0 || files[0].startsWith('-')) {
  console.error('usage: [MAGIKA_DIR=DIR] node identify.mjs FILE...');
  process.exit(2);
}
const config = JSON.parse(readFileSync(join(modelDir, 'config.min.json'), 'utf8'));

/** magika's input: up to beg_size bytes from the start and end_size from the end, whitespace trimmed, padded. */
function features(bytes) {
  const block = bytes.subarray(0, config.block_size);
  const tail = bytes.subarray(Math.max(0, bytes.length - config.block_size));
  const text = (b) => Buffer.from(b).toString('latin1');
  const head = Buffer.from(text(block).replace(/^[ \t\n\v\f\r]+/, ''), 'latin1');
  const end = Buffer.from(text(tail).replace(/[ \t\n\v\f\r]+$/, ''), 'latin1');
  const row = new Int32Array(config.beg_size + config.end_size).fill(config.padding_token);
  row.set(head.subarray(0, config.beg_size));
  const last = end.subarray(Math.max(0, end.length - config.end_size));
  row.set(last, row.length - last.length);
  return row;
}

const started = performance.now();
// `load` takes the model's bytes; `loadFile` would read it through WASI (preview2-shim's file system).
const session = inference.Session.load(readFileSync(join(modelDir, 'model.onnx')), []);
console.error(`${inference.engine()} engine, model ready in ${Math.round(performance.now() - started)} ms`);

const batch = new Int32Array(files.length * (config.beg_size + config.end_size));
files.forEach((file, i) => batch.set(features(readFileSync(file)), i * (config.beg_size + config.end_size)));
const tensor = { dtype: 'int32', shape: BigUint64Array.of(BigInt(files.length), BigInt(config.beg_size + config.end_size)), data: new Uint8Array(batch.buffer) };
const [[, scores]] = session.run([['bytes', tensor]]);
const probabilities = new Float32Array(scores.data.slice().buffer);
const width = Number(scores.shape[1]);
files.forEach((file, i) => {
  const row = probabilities.subarray(i * width, (i + 1) * width);
  const best = row.indexOf(Math.max(...row));
  console.log(`${file}: ${config.target_labels_space[best]} (${row[best].toFixed(3)})`);
});
