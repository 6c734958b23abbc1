// The wild models of scripts/make-wild-models.py (issue 30) timed in Node: onnxlet with the
// default routing (`auto`), onnxlet forced onto tract, and onnxruntime-web (wasm backend, one
// thread), each in a fresh process, on each model's first case. Prints a markdown table: the
// engine the model lands on, max |error| / max |reference| against onnxruntime (Python) and the
// median ms of `run`. Not part of `npm test` (its numbers depend on the machine).
//
//   node bench/wild.mjs                       # every wild model
//   node bench/wild.mjs ppocrv5_rec,ppocrv5_rec_pinned --runs 20
//   node bench/wild.mjs skl_rf_classifier --rows 64
//
// Options: a comma-separated list of model names, `--runs N` (timed runs, default 15; fewer for
// a model whose runs take over a second each), `--runtimes auto,tract,ort`, `--rows N` (the
// first case's one-row inputs repeated N times: a batch, for the scikit-learn models).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { wildTable } from './report.mjs';
import { labelError, relativeError, typedArray } from '../tests/support/compare.mjs';
import { root } from '../tests/support/models.mjs';

const dir = process.env.ONNXLET_WILD_MODELS_DIR ?? join(root, '.cache', 'wild-models');
const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
const read = async (file) => new Uint8Array(await readFile(join(dir, file)));

/** One runtime on one model, in this process: `{ engine, error, ms }` or `{ failed }`. */
async function child(runtimeName, name, runs, rows) {
  let runtime;
  if (runtimeName === 'ort') {
    runtime = await import('onnxruntime-web');
    runtime.env.wasm.numThreads = 1;
    runtime.env.logLevel = 'error';
  } else {
    runtime = await import('onnxlet');
    runtime.env.wasm.build = runtimeName;
  }
  const model = index.models.find((m) => m.name === name);
  const c = model.cases[0];
  const feeds = {};
  for (const input of c.inputs) {
    let data = typedArray(input.type, await read(input.file));
    let dims = input.dims;
    if (rows > 0 && dims[0] === 1) {
      // The row repeated: each output row is the reference's first.
      const batch = new data.constructor(data.length * rows);
      for (let r = 0; r < rows; r++) batch.set(data, r * data.length);
      [data, dims] = [batch, [rows, ...dims.slice(1)]];
    }
    feeds[input.name] = new runtime.Tensor(input.type, data, dims);
  }
  let session;
  try {
    session = await runtime.InferenceSession.create(await read(model.file));
  } catch (e) {
    return { failed: `load: ${e.message.split('\n')[0].slice(0, 200)}` };
  }
  // onnxruntime-web returns no non-tensor output (ZipMap's maps): those are left out of its runs.
  const skipped = (session.outputMetadata ?? []).filter((m) => m.isTensor === false).map((m) => m.name);
  const fetches = skipped.length > 0 ? session.outputNames.filter((n) => !skipped.includes(n)) : undefined;
  const runOnce = () => (fetches ? session.run(feeds, fetches) : session.run(feeds));
  let outputs;
  try {
    outputs = await runOnce();
  } catch (e) {
    return { failed: `run: ${e.message.split('\n')[0].slice(0, 200)}` };
  }
  let error = 0;
  for (const expected of c.outputs) {
    if (skipped.includes(expected.name)) continue;
    const actual = outputs[expected.name];
    if (!actual?.data?.length) return { failed: `output ${expected.name}: ${actual ? `${actual.type} without data` : 'missing'}` };
    const reference = typedArray(expected.type, await read(expected.file));
    // Labels (strings) are right or wrong; numbers are compared relatively.
    const off = expected.type === 'string' ? labelError(actual.data, reference) : relativeError(actual.data, reference);
    error = Math.max(error, off);
  }
  const times = [];
  const start = performance.now();
  for (let i = 0; i < runs + 2; i++) {
    const t = performance.now();
    await runOnce();
    if (i >= 2) times.push(performance.now() - t);
    if (performance.now() - start > 20_000 && times.length >= 3) break;
  }
  times.sort((a, b) => a - b);
  const result = { engine: session.engine ?? 'ort', error, ms: times[times.length >> 1], runs: times.length };
  return skipped.length > 0 ? { ...result, skipped } : result;
}

/**
 * Each wild model (`names`, default every one) on each runtime (`auto`: onnxlet's default
 * routing, `tract`, `ort`: onnxruntime-web), in a fresh Node process per model and runtime:
 * `{ name, rows, results: { [runtime]: { engine, error, ms, runs } | { failed } } }`.
 */
export function measureWild({ names = index.models.map((m) => m.name), runtimes = ['auto', 'tract', 'ort'], runs = 15, rows = 0 } = {}) {
  const self = fileURLToPath(import.meta.url);
  return names.map((name) => {
    const results = {};
    for (const r of runtimes) {
      try {
        const out = execFileSync(process.execPath, [self, '--child', r, name, String(runs), String(rows)], {
          cwd: root,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        results[r] = JSON.parse(out.trim().split('\n').pop());
      } catch (e) {
        results[r] = { failed: `crashed: ${String(e.stderr ?? e.message).trim().split('\n').pop().slice(0, 200)}` };
      }
    }
    return { name, rows, results };
  });
}

/** What each wild model exercises, from scripts/make-wild-models.py's index. */
export const wildModelNotes = () => Object.fromEntries(index.models.map((m) => [m.name, m.source ?? '']));

const args = process.argv.slice(2);
if (args[0] === '--child') {
  const result = await child(args[1], args[2], Number(args[3]), Number(args[4] ?? 0));
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const option = (flag, fallback) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args.splice(i, 2)[1] : fallback;
  };
  const runs = Number(option('--runs', 15));
  const runtimes = option('--runtimes', 'auto,tract,ort').split(',');
  const rows = Number(option('--rows', '0'));
  const names = args[0] ? args[0].split(',') : undefined;
  console.log(wildTable(measureWild({ names, runtimes, runs, rows }), runtimes));
}
