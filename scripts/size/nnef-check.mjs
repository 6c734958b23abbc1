// Runs models converted by `onnx2nnef` in the NNEF-only wasm core (nnef/), in Node: checks every
// case against the reference outputs (relative error ≤ 1e-4) and times create and runs like
// latency.mjs. `node scripts/size/nnef-check.mjs BUILD_DIR NNEF_DIR [--runs 20] [--models a,b]`
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { relativeError, typedArray } from '../../tests/support/compare.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const modelsDir = join(root, '.cache', 'models');
const CODES = { float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, uint32: 12, uint64: 13 };
const TYPES = Object.fromEntries(Object.entries(CODES).map(([k, v]) => [v, k]));

function pack(inputs) {
  const parts = [];
  for (const { type, dims, data } of inputs) {
    const head = Buffer.alloc(5 + 4 * dims.length);
    head[0] = CODES[type];
    head.writeUInt32LE(dims.length, 1);
    dims.forEach((d, i) => head.writeUInt32LE(d, 5 + 4 * i));
    parts.push(head, data);
  }
  return new Uint8Array(Buffer.concat(parts));
}

function unpack(bytes) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  let at = 0;
  while (at < buf.length) {
    const type = TYPES[buf[at]];
    const rank = buf.readUInt32LE(at + 1);
    const dims = Array.from({ length: rank }, (_, i) => buf.readUInt32LE(at + 5 + 4 * i));
    at += 5 + 4 * rank;
    const len = dims.reduce((a, b) => a * b, 1) * typedArray(type, new Uint8Array(8)).BYTES_PER_ELEMENT;
    out.push({ type, dims, data: new Uint8Array(buf.subarray(at, at + len)) });
    at += len;
  }
  return out;
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

const args = process.argv.slice(2);
const [buildDir, nnefDir] = args;
let runs = 20;
let only = null;
for (let i = 2; i < args.length; i++) {
  if (args[i] === '--runs') runs = Number(args[++i]);
  else if (args[i] === '--models') only = args[++i].split(',');
}
const glue = await import(pathToFileURL(join(buildDir, 'onnxlet.js')).href);
glue.initSync({ module: readFileSync(join(buildDir, 'shipped.wasm')) });
const index = JSON.parse(readFileSync(join(modelsDir, 'index.json'), 'utf8'));
const rows = [];
for (const model of index.models) {
  if (only && !only.includes(model.name)) continue;
  const file = join(nnefDir, `${model.name}.nnef.tar`);
  if (!existsSync(file)) { rows.push({ model: model.name, status: 'not converted' }); continue; }
  try {
    let t = performance.now();
    const session = new glue.NnefSession(new Uint8Array(readFileSync(file)));
    const create = performance.now() - t;
    let worst = 0;
    const packed = [];
    for (const c of model.cases) {
      const p = pack(c.inputs.map((i) => ({ ...i, data: readFileSync(join(modelsDir, i.file)) })));
      packed.push(p);
      const outputs = unpack(session.run(p));
      for (const [ix, expected] of c.outputs.entries()) {
        const got = outputs[ix];
        const want = typedArray(expected.type ?? got.type, new Uint8Array(readFileSync(join(modelsDir, expected.file))));
        worst = Math.max(worst, relativeError(typedArray(got.type, got.data), want));
      }
    }
    for (let i = 0; i < 3; i++) session.run(packed[0]);
    const times = [];
    for (let i = 0; i < runs; i++) {
      t = performance.now();
      session.run(packed[0]);
      times.push(performance.now() - t);
    }
    session.free();
    rows.push({ model: model.name, status: worst <= 1e-4 ? 'ok' : 'MISMATCH', maxRelError: worst.toExponential(1),
      createMs: +create.toFixed(1), medianMs: +pct(times, 0.5).toFixed(2), p10: +pct(times, 0.1).toFixed(2), p90: +pct(times, 0.9).toFixed(2) });
  } catch (e) {
    rows.push({ model: model.name, status: `error: ${String(e.message ?? e).slice(0, 120)}` });
  }
}
console.table(rows);
console.log(JSON.stringify(rows));
