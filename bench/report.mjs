// Renders bench/results/*.json as Markdown (docs/benchmarks.md). Also a command:
// `node bench/report.mjs [results.json] [out.md]` re-renders without measuring again.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { geomean } from './stats.mjs';

const ms = (v) => (v === undefined || v === null ? '—' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const mib = (v) => (v === undefined || v === null ? '—' : (v / 2 ** 20).toFixed(1));
const ratio = (v) => (v === undefined ? '—' : v.toFixed(2));
const bytes = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} MB` : `${(v / 1e3).toFixed(1)} kB`);
const diff = (v) => (v === undefined ? '—' : v === null ? '**mismatch**' : v === 0 ? '0' : v.toExponential(1));

/** A later decode step over this many times the median counts as a spike (issue 30: "flat"). */
export const SPIKE = 3;

/** The decode rows (bench/decode.mjs) as a Markdown table, each median against onnxruntime-web's. */
export function decodeTable(rows) {
  const ms = (v) => (v === undefined ? '' : v.toFixed(2));
  const lines = [
    `| model | layout | runtime (engine) | prefill | median | max | steps over ${SPIKE}× median | median vs onnxruntime-web |`,
    '|---|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const ort = rows.find((r) => r.runtime === 'onnxruntime-web' && r.model === row.model && r.layout === row.layout);
    const ratio = row.median && ort?.median ? `${(row.median / ort.median).toFixed(2)}×` : '';
    const what = row.runtime === 'onnxruntime-web' ? 'onnxruntime-web' : `onnxlet ${row.runtime} (${row.engine ?? '-'})`;
    if (row.error) lines.push(`| ${row.model} | ${row.layout} | ${what} | fails: ${row.error.replaceAll('|', '\\|')} | | | | |`);
    else {
      lines.push(
        `| ${row.model} | ${row.layout} | ${what} | ${ms(row.prefill)} | ${ms(row.median)} | ${ms(row.max)} | ` +
          `${row.spikes} of ${row.steps} | ${ratio}${row.tokensAgree ? '' : ' (tokens differ from onnxruntime)'} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The wild models' results (bench/wild.mjs) as a Markdown table. */
export function wildTable(measured, runtimes) {
  const cell = (r) => {
    if (r === undefined) return '';
    if (r.failed) return `fails (${r.failed.replaceAll('|', '\\|')})`;
    const without = r.skipped ? ` (without ${r.skipped.join(', ')})` : '';
    // A result that is not a finite number (a mismatch, or strings before they were compared) is
    // null in the JSON.
    const error = typeof r.error === 'number' && Number.isFinite(r.error) ? r.error.toExponential(1) : '**mismatch or not compared**';
    return `${r.engine}, ${error}, ${r.ms.toFixed(r.ms < 10 ? 2 : 1)} ms${without}`;
  };
  const ratio = (a, b) => (a?.ms && b?.ms ? `${(a.ms / b.ms).toFixed(2)}` : '—');
  const hasOrt = runtimes.includes('ort');
  const lines = [
    `| model | ${runtimes.map((r) => `${r} (engine, max rel. error, median)`).join(' | ')} |${hasOrt ? ' auto ÷ ort |' : ''}`,
    `|---|${runtimes.map(() => '---').join('|')}|${hasOrt ? '---:|' : ''}`,
  ];
  for (const { name, rows, results } of measured) {
    const label = rows > 0 ? `${name} × ${rows} rows` : name;
    lines.push(`| ${label} | ${runtimes.map((r) => cell(results[r])).join(' | ')} |${hasOrt ? ` ${ratio(results.auto, results.ort)} |` : ''}`);
  }
  return lines.join('\n');
}

function decodeSection(decode) {
  if (!decode) return [];
  // Reports of before 2026-12-07 warmed up with one decode.
  const warmup = decode.warmup ?? 1;
  return [
    '## Text generation (decode per token), Node',
    '',
    `bench/decode.mjs: greedy decode of ${decode.tokens} new tokens after an 8-token prompt over optimum's exports of ` +
      'small random GPT-2 and Llama configs (tests/models/decoders/) in their three layouts, each runtime in its own ' +
      `process, ${warmup} decode${warmup === 1 ? '' : 's'} to warm up (until V8 has compiled every function of a step ` +
      'with its optimising compiler, steps of both runtimes now and then take several milliseconds: ' +
      '[decode-2026-12-07.md](decode-2026-12-07.md)) and one timed. Times in ms per token (`session.run` alone); "auto" is onnxlet\'s ' +
      'default routing, "tract" its tract engine forced.',
    '',
    decodeTable(decode.rows),
    '',
  ];
}

function wildSection(wild) {
  if (!wild) return [];
  const lines = [
    '## Models as exporters write them (wild models), Node',
    '',
    'bench/wild.mjs over the models of scripts/make-wild-models.py: each model\'s first case, in a fresh process per ' +
      `model and runtime, ${wild.runs} timed runs after 2 untimed. Error is the largest |Δ| ÷ the largest |reference| ` +
      'against onnxruntime (Python). "auto" is onnxlet\'s default routing.',
    '',
    ...(wild.note ? [`Note: ${wild.note}.`, ''] : []),
    wildTable(wild.models, wild.runtimes),
    '',
    '| model | what it is |',
    '|---|---|',
    ...Object.entries(wild.notes).map(([name, note]) => `| ${name} | ${note.replaceAll('|', '\\|')} |`),
    '',
  ];
  return lines;
}

/** "ort / onnxlet (ratio)" for one metric of one model. */
function cell(entry, key, format) {
  const a = entry.ort?.summary?.[key];
  const b = entry.onnxlet?.summary?.[key];
  return `${format(a)} / ${format(b)} (${ratio(entry.ratios?.[key])})`;
}

const TIME_COLUMNS = [
  ['session create', 'createMs'],
  ['warm create', 'createWarmMs'],
  ['warm create, longest block', 'createWarmBlockMs'],
  ['first run', 'firstRunMs'],
  ['median', 'medianMs'],
  ['p10', 'p10Ms'],
  ['p90', 'p90Ms'],
  ['cold start', 'coldStartMs'],
];

const count = (entry, key) => `${entry.ort?.summary?.[key] ?? '—'} / ${entry.onnxlet?.summary?.[key] ?? '—'}`;

function environmentSection(env) {
  const names = Object.keys(env.models);
  const lines = [`## ${env.label}`, ''];
  lines.push(
    'Times in ms, as onnxruntime-web / onnxlet (ratio onnxlet ÷ onnxruntime-web; below 1 means onnxlet is faster). ' +
      '"max |Δ|" is the largest absolute difference between the two runtimes\' first outputs, "vs reference" ' +
      "each runtime's against the case's reference outputs." +
      (env.kind === 'node' ? " Cold start is from the Node process's start to the first result." : ''),
    '',
  );
  if (env.isolated) {
    const workers = (r) => Math.max(0, ...names.map((n) => env.models[n][r]?.workers ?? 0));
    const isolated = names.every((n) => ['ort', 'onnxlet'].every((r) => env.models[n][r]?.crossOriginIsolated !== false));
    lines.push(
      `Pages ${isolated ? 'were' : '**were not all**'} cross-origin isolated; onnxruntime-web started up to ` +
        `${workers('ort')} worker(s), onnxlet ${workers('onnxlet')} (each of the page's two sessions, the ` +
        "measured one and the warm create's, starts its own worker and one more per thread). onnxlet's wasm " +
        "memory is then in workers, out of the page's sight: shown as —.",
      '',
    );
  }
  lines.push(`| model | onnxlet engine | ${TIME_COLUMNS.map(([t]) => t).join(' | ')} | timed runs | max \\|Δ\\| | vs reference |`);
  lines.push(`|---|---|${TIME_COLUMNS.map(() => '---:').join('|')}|---:|---:|---:|`);
  for (const name of names) {
    const e = env.models[name];
    const cols = TIME_COLUMNS.map(([, k]) => cell(e, k, ms));
    const a = e.agreement ?? {};
    const reference = `${diff(a.ortVsReference?.maxAbs)} / ${diff(a.onnxletVsReference?.maxAbs)}`;
    lines.push(`| ${name} | ${e.onnxlet?.engine ?? '—'} | ${cols.join(' | ')} | ${count(e, 'runs')} | ${diff(a.onnxletVsOrt?.maxAbs)} | ${reference} |`);
  }
  const g = (k) => ratio(geomean(names.map((n) => env.models[n].ratios?.[k])));
  lines.push(`| **geometric mean of ratios** | | ${TIME_COLUMNS.map(([, k]) => `**${g(k)}**`).join(' | ')} | | | |`);
  lines.push('');
  lines.push(
    "Memory in MiB, as onnxruntime-web / onnxlet (ratio): the runtime's WebAssembly memory and the JS heap " +
      '(after a garbage collection) once the session is created, and after all runs (warm-up and timed; how many ' +
      'in "runs").',
    '',
  );
  lines.push('| model | wasm after load | wasm after the runs | JS heap after load | JS heap after the runs | runs |');
  lines.push('|---|---:|---:|---:|---:|---:|');
  for (const name of names) {
    const e = env.models[name];
    const cols = [...['wasmLoadBytes', 'wasmRunsBytes', 'jsHeapLoadBytes', 'jsHeapRunsBytes'].map((k) => cell(e, k, mib)), count(e, 'memoryRunCount')];
    lines.push(`| ${name} | ${cols.join(' | ')} |`);
  }
  lines.push('');
  const failures = names.flatMap((n) =>
    ['ort', 'onnxlet'].filter((r) => env.models[n][r]?.error).map((r) => `- ${n}, ${r}: ${firstLine(env.models[n][r].error)}`),
  );
  if (failures.length) lines.push('Failed jobs:', '', ...failures, '');
  return lines;
}

const firstLine = (text) => String(text).split('\n')[0].replace(/\|/g, '\\|');

function summarySection(results) {
  const lines = ['## Summary', ''];
  lines.push(
    '| environment | latency ratio (median), geometric mean | p10 ratio, geometric mean | worst model (ratio) | models > 1.5 | create faster | cold start faster |',
  );
  lines.push('|---|---:|---:|---|---:|---:|---:|');
  for (const env of Object.values(results.environments)) {
    const entries = Object.entries(env.models).filter(([, e]) => e.ratios?.medianMs !== undefined);
    const latency = entries.map(([, e]) => e.ratios.medianMs);
    const worst = entries.reduce((w, [n, e]) => (!w || e.ratios.medianMs > w[1] ? [n, e.ratios.medianMs] : w), undefined);
    const faster = (k) => `${entries.filter(([, e]) => e.ratios[k] < 1).length} of ${entries.length}`;
    lines.push(
      `| ${env.label} | **${ratio(geomean(latency))}** | ${ratio(geomean(entries.map(([, e]) => e.ratios.p10Ms)))} | ${worst ? `${worst[0]} (${ratio(worst[1])})` : '—'} | ` +
        `${latency.filter((r) => r > 1.5).length} | ${faster('createMs')} | ` +
        `${env.kind === 'node' ? '—' : faster('coldStartMs')} |`,
    );
  }
  lines.push('', 'Latency ratio = median onnxlet latency ÷ median onnxruntime-web latency, per model; targets: ≤ 1.0 as a geometric mean at 1 thread, ≤ 1.5 on every model.', '');
  return lines;
}

function sizeSection(results) {
  const sizes = results.sizes.browser ?? Object.values(results.sizes)[0];
  if (!sizes) return [];
  const lines = ['## Download size', ''];
  lines.push(
    'The JS and wasm files each runtime made the page fetch (recorded by request interception; compressed here with ' +
      'gzip -9 and brotli -q 11, as a server would precompress them).',
    '',
  );
  lines.push('| runtime | files | raw | gzip | brotli |', '|---|---|---:|---:|---:|');
  for (const [runtime, label] of [['ort', 'onnxruntime-web'], ['onnxlet', 'onnxlet']]) {
    const s = sizes[runtime];
    if (!s) continue;
    const files = s.files.map((f) => `\`${f.path.split('/').pop()}\` (${bytes(f.brotli)} br)`).join(', ');
    lines.push(`| ${label} | ${files} | ${bytes(s.total.raw)} | ${bytes(s.total.gzip)} | ${bytes(s.total.brotli)} |`);
  }
  if (sizes.ort && sizes.onnxlet) {
    const r = (k) => ratio(sizes.onnxlet.total[k] / sizes.ort.total[k]);
    lines.push(`| **ratio onnxlet ÷ onnxruntime-web** | | ${r('raw')} | ${r('gzip')} | ${r('brotli')} |`);
  }
  const threaded = results.sizes['browser-threads']?.ort;
  if (threaded && sizes.ort && threaded.total.raw !== sizes.ort.total.raw) {
    lines.push('', `With cross-origin isolation onnxruntime-web fetched ${bytes(threaded.total.brotli)} (brotli).`);
  }
  lines.push('');
  return lines;
}

const budget = (o) =>
  o.budgetSeconds ? `, or fewer once ${o.minRuns} are done and the timed runs have taken ${o.budgetSeconds} s` : '';

const startsText = (n) =>
  n > 1
    ? `session create, warm create and cold start are the median of ${n} fresh pages or processes per model, runtime ` +
      `and environment, the two runtimes alternating: the one that times the runs and ${n - 1} more that stop after ` +
      'the first run and the warm create'
    : 'session create, warm create and cold start are one sample each (the page or process that times the runs)';

/** The whole report. */
export function renderReport(results) {
  const m = results.machine;
  const v = results.versions;
  const lines = [
    '# Benchmarks: onnxlet and onnxruntime-web',
    '',
    `Generated by \`npm run bench\` (bench/run.mjs; how and what it measures: [bench/README.md](../bench/README.md)). ` +
      'Do not edit by hand: run the benchmark again.',
    '',
  ];
  if (results.partial) lines.push('**Partial run** (a subset of models, runs or environments).', '');
  if (results.note) lines.push(`> ${results.note}`, '');
  lines.push(
    '| | |',
    '|---|---|',
    `| date | ${results.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} |`,
    `| onnxlet | ${v.onnxlet} (commit ${v.onnxletCommit ?? '?'}${v.onnxletSourceDirty ? ', uncommitted changes in src/ or js/' : ''}; wasm sha256 ${v.onnxletWasmSha256}…${v.onnxletWasmNameSection ? '; **the wasm has a name section: built without wasm-opt**' : ''}) |`,
    ...(v.onnxletBuild && !['auto', 'default'].includes(v.onnxletBuild) ? [`| onnxlet module | ${v.onnxletBuild} (\`env.wasm.build = '${v.onnxletBuild}'\`) |`] : []),
    `| onnxruntime-web | ${v.onnxruntimeWeb} (wasm backend, SIMD) |`,
    `| machine | ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os} |`,
    `| load average at start | ${m.loadAverage.join(', ')} |`,
    ...(v.chromium ? [`| Chromium | ${v.chromium} (headless) |`] : []),
    `| Node | ${m.node} |`,
    `| runs | per model, runtime and environment, in a fresh page or process: ${results.options.warmup} warm-up (the first is "first run"), then ${results.options.runs} timed${budget(results.options)} |`,
    `| starts | ${startsText(results.options.starts ?? 1)} |`,
    `| models | ${results.options.models.join(', ')} |`,
    `| duration | ${(results.durationMs / 60000).toFixed(1)} min |`,
    '',
  );
  lines.push(...summarySection(results), ...sizeSection(results));
  for (const env of Object.values(results.environments)) lines.push(...environmentSection(env));
  lines.push(...decodeSection(results.decode), ...wildSection(results.wild));
  return `${lines.join('\n').trimEnd()}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(fileURLToPath(import.meta.url), '..', '..');
  const input = process.argv[2] ?? join(root, 'bench', 'results', 'latest.json');
  const output = process.argv[3] ?? join(root, 'docs', 'benchmarks.md');
  writeFileSync(output, renderReport(JSON.parse(readFileSync(input, 'utf8'))));
  console.log(`wrote ${output}`);
}
