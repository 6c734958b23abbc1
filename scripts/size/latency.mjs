// Latency of wasm builds in Node: for each build directory (wasm-bindgen glue `onnxlet.js` and a
// wasm file), a fresh Node process loads each model's case0 inputs, creates a session, runs it
// 3 times (warm-up) then N times, checks the first output against the reference (relative error
// ≤ 1e-4), and reports create time and median/p10/p90 run time. Builds are
// alternated round by round so that load from other processes spreads evenly.
// `node scripts/size/latency.mjs [--runs 20] [--rounds 2] [--models a,b] [--wasm shipped.wasm] DIR...`
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { relativeError, typedArray } from '../../tests/support/compare.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const modelsDir = join(root, '.cache', 'models');

async function child(dir, wasmName, models, runs) {
  const glue = await import(pathToFileURL(join(dir, 'onnxlet.js')).href);
  glue.initSync({ module: readFileSync(join(dir, wasmName)) });
  const index = JSON.parse(readFileSync(join(modelsDir, 'index.json'), 'utf8'));
  const out = {};
  for (const name of models) {
    const model = index.models.find((m) => m.name === name);
    const bytes = readFileSync(join(modelsDir, model.file));
    const kase = model.cases[0];
    const feeds = kase.inputs.map((i) => ({ name: i.name, type: i.type, dims: i.dims,
      data: new Uint8Array(readFileSync(join(modelsDir, i.file))) }));
    let t = performance.now();
    const session = new glue.WasmSession(bytes, undefined);
    const create = performance.now() - t;
    let outputs;
    for (let i = 0; i < 3; i++) outputs = session.run(feeds, undefined);
    const times = [];
    for (let i = 0; i < runs; i++) {
      t = performance.now();
      session.run(feeds, undefined);
      times.push(performance.now() - t);
    }
    // Sanity: the first output matches the reference within the index's tolerances.
    const want = typedArray(kase.outputs[0].type ?? outputs[0].type, new Uint8Array(readFileSync(join(modelsDir, kase.outputs[0].file))));
    const got = typedArray(outputs[0].type, outputs[0].data);
    const ok = got.length === want.length && relativeError(got, want) <= 1e-4;
    session.free();
    out[name] = { create, times, ok };
  }
  return out;
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

if (process.argv[2] === '--child') {
  const [, , , dir, wasmName, models, runs] = process.argv;
  console.log(JSON.stringify(await child(dir, wasmName, models.split(','), Number(runs))));
} else {
  const args = process.argv.slice(2);
  let runs = 20; let rounds = 2; let models = ['squeezenet', 'magika', 'minilm']; let wasmName = 'shipped.wasm';
  const dirs = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--runs') runs = Number(args[++i]);
    else if (args[i] === '--rounds') rounds = Number(args[++i]);
    else if (args[i] === '--models') models = args[++i].split(',');
    else if (args[i] === '--wasm') wasmName = args[++i];
    else dirs.push(args[i]);
  }
  const results = new Map(dirs.map((d) => [d, {}]));
  for (let r = 0; r < rounds; r++) {
    for (const dir of dirs) {
      const out = JSON.parse(execFileSync(process.execPath, [import.meta.filename, '--child', dir, wasmName, models.join(','), String(runs)], { maxBuffer: 1 << 26 }));
      for (const [m, v] of Object.entries(out)) {
        const acc = results.get(dir)[m] ??= { create: [], times: [], ok: true };
        acc.create.push(v.create);
        acc.times.push(...v.times);
        acc.ok = acc.ok && v.ok !== false;
      }
    }
  }
  const rows = [];
  for (const [dir, byModel] of results) {
    for (const [m, v] of Object.entries(byModel)) {
      rows.push({ build: dir, model: m, createMs: +pct(v.create, 0.5).toFixed(1), medianMs: +pct(v.times, 0.5).toFixed(2),
        p10: +pct(v.times, 0.1).toFixed(2), p90: +pct(v.times, 0.9).toFixed(2), n: v.times.length, outputOk: v.ok });
    }
  }
  console.table(rows);
  console.log(JSON.stringify(rows));
}
