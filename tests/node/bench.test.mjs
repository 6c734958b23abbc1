// The benchmark's statistics, options and report (bench/), without running a benchmark.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseOptions } from '../../bench/options.mjs';
import { renderReport } from '../../bench/report.mjs';
import { agreement, geomean, quantile, ratios, startOf, summarise, withStarts } from '../../bench/stats.mjs';

test('quantiles interpolate between order statistics, whatever the input order', () => {
  const values = [5, 1, 4, 2, 3];
  assert.equal(quantile(values, 0.5), 3);
  assert.equal(quantile(values, 0), 1);
  assert.equal(quantile(values, 1), 5);
  assert.equal(quantile(values, 0.1), 1.4);
  assert.equal(quantile([7], 0.9), 7);
  assert.equal(quantile([], 0.5), undefined);
});

test('the geometric mean skips missing ratios', () => {
  assert.ok(Math.abs(geomean([0.5, 2, 4]) - Math.cbrt(4)) < 1e-12);
  assert.equal(geomean([2, undefined, 8]), 4);
  assert.equal(geomean([]), undefined);
});

test('ratios are onnxlet over onnxruntime-web', () => {
  assert.deepEqual(ratios({ medianMs: 10, createMs: 0 }, { medianMs: 5, createMs: 3 }), { medianMs: 0.5 });
});

test('starts: create, warm create and cold start become their medians over the starts', () => {
  const raw = { createMs: 30, createWarmMs: 9, firstRunMs: 3, firstResultMs: 300, latencies: [1, 2, 3],
    memory: { load: { wasm: 1, jsHeap: 1 }, runs: { wasm: 1, jsHeap: 1 }, runCount: 4 } };
  const summary = summarise(raw);
  const starts = [startOf(raw), { createMs: 10, createWarmMs: 8, coldStartMs: 100 }, { createMs: 20, createWarmMs: 7, coldStartMs: 200 }];
  const merged = withStarts(summary, starts);
  assert.deepEqual([merged.createMs, merged.createWarmMs, merged.coldStartMs, merged.starts], [20, 8, 200, 3]);
  assert.equal(merged.medianMs, 2, 'the latencies are the timing job\'s');
  assert.equal(merged.firstRunMs, 3);
  assert.equal(withStarts(summary, [startOf(raw)]).createMs, 30);
});

test('agreement finds the largest difference and flags missing or mis-sized outputs', () => {
  const a = { x: { data: [1, 2, 3] }, y: { data: [0] } };
  assert.deepEqual(agreement(a, { x: { data: [1, 2.5, 3] }, y: { data: [0] } }), { maxAbs: 0.5, perOutput: { x: 0.5, y: 0 } });
  assert.equal(agreement(a, { x: { data: [1, 2] }, y: { data: [0] } }).maxAbs, Infinity);
  assert.equal(agreement(a, { x: { data: [1, 2, 3] } }).maxAbs, Infinity);
  assert.equal(agreement({ x: { data: [NaN] } }, { x: { data: [1] } }).maxAbs, Infinity);
});

test('options: defaults give 100 runs; subsets are partial; unknown flags are refused', () => {
  const full = parseOptions([]);
  assert.equal(full.warmup + full.runs, 100);
  assert.equal(full.partial, false);
  assert.equal(parseOptions(['--quick']).partial, true);
  assert.deepEqual(parseOptions(['--models', 'a,b']).models, ['a', 'b']);
  assert.equal(parseOptions(['--runs=30']).runs, 30);
  assert.equal(parseOptions(['--browser-only']).node, false);
  assert.equal(full.starts, 3);
  assert.equal(parseOptions(['--quick']).starts, 1);
  assert.equal(parseOptions(['--starts', '5']).starts, 5);
  assert.throws(() => parseOptions(['--starts', '0']), /integer ≥ 1/);
  assert.throws(() => parseOptions(['--runs', 'x']), /integer/);
  assert.throws(() => parseOptions(['--fast']), /unknown option --fast/);
  assert.throws(() => parseOptions(['--node-only', '--browser-only']), /exclude/);
  assert.equal(full.build, 'auto');
  // Every engine but the full build has a multi-threaded module.
  const lite = parseOptions(['--build', 'lite']);
  assert.deepEqual([lite.build, lite.threads, lite.partial], ['lite', true, true]);
  assert.deepEqual(parseOptions(['--build', 'tract']).threads, true);
  assert.deepEqual(parseOptions(['--build', 'full']).threads, false);
  assert.throws(() => parseOptions(['--build', 'tiny']), /--build must be auto, lite, tract or full, not tiny/);
  // The decode and wild-model sections run with the whole set of models on the default routing.
  assert.deepEqual([full.decode, full.wild], [true, true]);
  assert.deepEqual([parseOptions(['--quick']).decode, parseOptions(['--models', 'a']).wild], [false, false]);
  assert.deepEqual([lite.decode, parseOptions(['--browser-only']).wild], [false, false]);
  const noDecode = parseOptions(['--no-decode']);
  assert.deepEqual([noDecode.decode, noDecode.wild, noDecode.partial], [false, true, true]);
});

test('the report shows every model with its ratio, and failed jobs', () => {
  const raw = (median) => ({
    createMs: 10, createWarmMs: 5, firstRunMs: 3, firstResultMs: 100, latencies: [median, median, median],
    memory: { load: { wasm: 2 ** 20, jsHeap: 2 ** 20 }, runs: { wasm: 2 ** 21, jsHeap: 2 ** 20 }, runCount: 4 },
  });
  const ort = summarise(raw(4));
  const onnxlet = summarise(raw(2));
  const results = {
    date: '2026-01-01T00:00:00.000Z', partial: false, durationMs: 60000,
    options: { warmup: 1, runs: 3, minRuns: 20, budgetSeconds: 30, starts: 3, models: ['a', 'b'] },
    machine: { cpu: 'cpu', cores: 2, memoryGiB: 4, os: 'os', node: 'v20', loadAverage: [0, 0, 0] },
    versions: { onnxlet: '0.1.0', onnxletCommit: 'abc', onnxletWasmSha256: '00', onnxruntimeWeb: '1.30.0' },
    environments: {
      node: {
        label: 'Node, 1 thread', kind: 'node',
        models: {
          a: { ort: { summary: ort }, onnxlet: { summary: onnxlet, engine: 'lite' }, ratios: ratios(ort, onnxlet), agreement: { onnxletVsOrt: { maxAbs: 0 } } },
          b: { ort: { summary: ort }, onnxlet: { error: 'it broke\nstack' }, ratios: {}, agreement: {} },
        },
      },
    },
    sizes: {},
  };
  const md = renderReport(results);
  assert.match(md, /\| a \| lite \| 10\.0 \/ 10\.0 \(1\.00\) .* 4\.00 \/ 2\.00 \(0\.50\)/);
  assert.match(md, /\| b \| — \| 10\.0 \/ — /);
  assert.match(md, /\| Node, 1 thread \| \*\*0\.50\*\* \| 0\.50 \| a \(0\.50\) \|/);
  assert.match(md, /- b, onnxlet: it broke$/m);
  assert.match(md, /\| starts \| session create, warm create and cold start are the median of 3 fresh pages/);
  assert.doesNotMatch(md, /decode per token|wild models/);

  results.decode = {
    tokens: 4,
    warmup: 4,
    rows: [
      { runtime: 'onnxruntime-web', model: 'gpt2', layout: 'merged', engine: 'ort', prefill: 2, median: 0.5, max: 0.6, spikes: 0, steps: 3, tokensAgree: true },
      { runtime: 'auto', model: 'gpt2', layout: 'merged', engine: 'lite', prefill: 1, median: 0.25, max: 2, spikes: 1, steps: 3, tokensAgree: false },
      { runtime: 'tract', model: 'gpt2', layout: 'merged', error: 'INVALID_MODEL it broke' },
    ],
  };
  results.wild = {
    runtimes: ['auto', 'ort'], runs: 3, notes: { m: 'a | b' },
    models: [{ name: 'm', rows: 64, results: { auto: { engine: 'lite', error: 0, ms: 1 }, ort: { engine: 'ort', error: 1e-7, ms: 4, skipped: ['p'] } } }],
  };
  const more = renderReport(results);
  assert.match(more, /\| gpt2 \| merged \| onnxlet auto \(lite\) \| 1\.00 \| 0\.25 \| 2\.00 \| 1 of 3 \| 0\.50× \(tokens differ from onnxruntime\) \|/);
  assert.match(more, /\| gpt2 \| merged \| onnxlet tract \(-\) \| fails: INVALID_MODEL it broke \|/);
  assert.match(more, /greedy decode of 4 new tokens .* 4 decodes to warm up/);
  assert.match(more, /\| m × 64 rows \| lite, 0\.0e\+0, 1\.00 ms \| ort, 1\.0e-7, 4\.00 ms \(without p\) \| 0\.25 \|/);
  assert.match(more, /\| m \| a \\\| b \|/);
});
