// `npm run bench`: onnxlet against onnxruntime-web on the same models and inputs, in headless
// Chromium (1 thread, and all cores when cross-origin isolated) and in Node. Writes the JSON
// results and the Markdown report; see bench/README.md.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ensureChromium, ensureNpmDeps, fetchModels, root, run } from '../scripts/setup.mjs';
import { USAGE, parseOptions } from './options.mjs';

const PAGE_TIMEOUT_MS = 60 * 60 * 1000;

/** New tokens of each decode (the decoders have 64 positions; the prompt is 8). */
const DECODE_TOKENS = 48;

/** Timed runs of each wild model, and the scikit-learn models also timed on 64 rows. */
const WILD_RUNS = 15;
const WILD_BATCH_MODELS = ['skl_rf_classifier', 'skl_rf_regressor', 'skl_gb_regressor'];

/** Timed runs always done before the time budget may end a series. */
const MIN_RUNS = 20;

/** onnxruntime-web's CPU backend with all graph optimisations, warnings off. */
const ORT_SESSION_OPTIONS = { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 };

/** The measured environments, in the order each model visits them. */
const ENVIRONMENTS = {
  browser: { label: 'Chromium, 1 thread', kind: 'browser', threads: 1, isolated: false },
  'browser-threads': {
    label: 'Chromium, cross-origin isolated, numThreads = hardwareConcurrency',
    kind: 'browser',
    threads: 'all',
    isolated: true,
  },
  node: { label: 'Node, 1 thread', kind: 'node', threads: 1 },
};

function setUp(options) {
  ensureNpmDeps();
  fetchModels();
  if (!existsSync(join(root, 'dist', 'onnxlet.mjs')) || !existsSync(join(root, 'dist', 'onnxlet_bg.wasm'))) {
    run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
  }
  if (options.browser) ensureChromium();
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(error.message);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const started = Date.now();
  setUp(options);

  // Imported after set-up: they need the npm packages and the model cache.
  const { ALL_MODELS, QUICK_MODELS, benchModels, readCacheFile } = await import('./models.mjs');
  const { machine, versions } = await import('./machine.mjs');
  const { summarise, ratios, agreement, startOf, withStarts } = await import('./stats.mjs');
  const { renderReport } = await import('./report.mjs');
  const { snapshotDist } = await import('./dist.mjs');
  snapshotDist();

  const models = benchModels(options.models ?? (options.quick ? QUICK_MODELS : ALL_MODELS));
  const envNames = Object.keys(ENVIRONMENTS).filter((name) => {
    const env = ENVIRONMENTS[name];
    if (env.kind === 'node') return options.node;
    return options.browser && (options.threads || !env.isolated);
  });
  if (options.runs < 20) console.log(`note: ${options.runs} timed runs (the report asks for at least 20)`);

  const results = {
    schema: 1,
    date: new Date().toISOString(),
    command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    partial: options.partial,
    note: options.note,
    options: {
      warmup: options.warmup,
      runs: options.runs,
      minRuns: MIN_RUNS,
      budgetSeconds: options.budget,
      starts: options.starts,
      build: options.build,
      models: models.map((m) => m.name),
    },
    machine: machine(),
    versions: versions(options.build),
    environments: Object.fromEntries(envNames.map((n) => [n, { ...ENVIRONMENTS[n], models: {} }])),
    sizes: {},
  };

  let servers;
  let browser;
  if (options.browser) {
    const b = await import('./browser.mjs');
    servers = await b.startServers();
    ({ browser } = await b.startBrowser());
    results.versions.chromium = browser.version();
  }
  const fetchedBy = {};
  const { runPage, MOUNTS, RUNTIME_PREFIXES } = options.browser ? await import('./browser.mjs') : {};
  const { runNode } = await import('./node.mjs');
  const { runtimeDownload } = await import('./sizes.mjs');

  console.log(
    `bench: ${models.length} model(s) × ${envNames.join(', ')}; ${options.warmup} warm-up + ${options.runs} timed runs; ` +
      `${results.machine.cpu}, ${results.machine.cores} cores, load ${results.machine.loadAverage.join(' ')}`,
  );
  try {
    for (const [mi, model] of models.entries()) {
      const references = Object.fromEntries(
        await Promise.all(
          model.outputs.map(async (o) => {
            const { typedArray } = await import('./harness.mjs');
            return [o.name, { dims: o.dims, data: Array.from(typedArray(o.type, await readCacheFile(o.file)), Number) }];
          }),
        ),
      );
      for (const envName of envNames) {
        const env = ENVIRONMENTS[envName];
        // Alternate which runtime goes first, so that drift on a busy machine hits both alike.
        const order = mi % 2 === 0 ? ['ort', 'onnxlet'] : ['onnxlet', 'ort'];
        const entry = {};
        const outputs = {};
        const logger = (runtime) => {
          const tag = `[${mi + 1}/${models.length} ${model.name} · ${envName} · ${runtime}]`;
          return (text) => console.log(`${tag} ${text}`);
        };
        /** One job in a fresh page or process; `overrides` change its run counts. */
        const runJob = (runtime, log, overrides = {}) => {
          const job = {
            runtime,
            threads: env.threads,
            file: model.file,
            inputs: model.inputs,
            state: model.state,
            warmup: options.warmup,
            runs: options.runs,
            minRuns: MIN_RUNS,
            budgetMs: options.budget * 1000,
            sessionOptions: runtime === 'ort' ? ORT_SESSION_OPTIONS : {},
            build: options.build,
            ...overrides,
          };
          return env.kind === 'node'
            ? runNode(job, { log, timeoutMs: PAGE_TIMEOUT_MS })
            : runPage(browser, env.isolated ? servers.isolated.url : servers.plain.url, job, {
                log,
                timeoutMs: PAGE_TIMEOUT_MS,
              });
        };
        const starts = { ort: [], onnxlet: [] };
        for (const runtime of order) {
          const log = logger(runtime);
          const t = Date.now();
          const outcome = await runJob(runtime, log);
          if (outcome.fetched) {
            const key = `${envName}/${runtime}`;
            fetchedBy[key] = [...(fetchedBy[key] ?? []), ...outcome.fetched];
          }
          if (outcome.error || !outcome.result) {
            log(`FAILED: ${outcome.error}`);
            entry[runtime] = { error: outcome.error, consoleErrors: outcome.consoleErrors };
            continue;
          }
          const { outputs: out, latencies, instances, memory, threads, crossOriginIsolated, workers, engine } = outcome.result;
          outputs[runtime] = out;
          const summary = summarise(outcome.result);
          starts[runtime].push(startOf(outcome.result));
          entry[runtime] = {
            summary,
            engine,
            threads,
            crossOriginIsolated,
            workers,
            latencies: latencies.map((v) => Math.round(v * 1000) / 1000),
            memory,
            instances,
            consoleErrors: outcome.consoleErrors?.length ? outcome.consoleErrors : undefined,
          };
          log(
            `median ${summary.medianMs.toFixed(1)} ms (p10 ${summary.p10Ms.toFixed(1)}, p90 ${summary.p90Ms.toFixed(1)}), ` +
              `wasm ${Number.isFinite(summary.wasmRunsBytes) ? `${(summary.wasmRunsBytes / 2 ** 20).toFixed(1)} MiB` : 'in workers'}, ${seconds(Date.now() - t)}`,
          );
        }
        // More starts, each in a fresh page or process (create, first run, warm create), the two
        // runtimes alternating; their medians replace the single samples of the jobs above.
        for (let round = 1; round < options.starts; round++) {
          for (const runtime of order.filter((r) => entry[r]?.summary)) {
            const log = logger(runtime);
            const outcome = await runJob(runtime, log, { warmup: 1, runs: 0, minRuns: 0, budgetMs: 0 });
            if (outcome.error || !outcome.result) log(`start ${round + 1} FAILED: ${outcome.error}`);
            else starts[runtime].push(startOf(outcome.result));
          }
        }
        for (const runtime of order.filter((r) => entry[r]?.summary)) {
          entry[runtime].starts = starts[runtime];
          entry[runtime].summary = withStarts(entry[runtime].summary, starts[runtime]);
          if (starts[runtime].length > 1) {
            const { createMs, coldStartMs } = entry[runtime].summary;
            logger(runtime)(
              `median of ${starts[runtime].length} starts: create ${createMs.toFixed(1)} ms, cold start ${coldStartMs.toFixed(1)} ms`,
            );
          }
        }
        entry.ratios = ratios(entry.ort?.summary, entry.onnxlet?.summary);
        entry.agreement = {
          onnxletVsOrt: outputs.ort && outputs.onnxlet ? finite(agreement(outputs.onnxlet, outputs.ort)) : undefined,
          ortVsReference: outputs.ort ? finite(agreement(references, outputs.ort)) : undefined,
          onnxletVsReference: outputs.onnxlet ? finite(agreement(references, outputs.onnxlet)) : undefined,
        };
        const r = entry.ratios.medianMs;
        const d = entry.agreement.onnxletVsOrt?.maxAbs;
        console.log(
          `[${mi + 1}/${models.length} ${model.name} · ${envName}] latency ratio ${r ? r.toFixed(2) : '—'}, ` +
            `max |onnxlet - ort| ${d === undefined ? '—' : d === null ? 'MISMATCH' : d.toExponential(1)}`,
        );
        results.environments[envName].models[model.name] = entry;
      }
    }
  } finally {
    await browser?.close();
    await servers?.close();
  }

  if (options.decode) {
    const { DECODE_WARMUP, measureDecode } = await import('./decode.mjs');
    const t = Date.now();
    console.log('decode: GPT-2 and Llama decoders, three layouts, onnxruntime-web / onnxlet (auto, tract), Node');
    results.decode = { tokens: DECODE_TOKENS, warmup: DECODE_WARMUP, rows: measureDecode({ tokens: DECODE_TOKENS }) };
    for (const row of results.decode.rows) {
      const what = `${row.model} ${row.layout} ${row.runtime}${row.engine ? ` (${row.engine})` : ''}`;
      console.log(`decode: ${what}: ${row.error ? `FAILED: ${row.error}` : `median ${row.median.toFixed(2)} ms per token`}`);
    }
    console.log(`decode: ${seconds(Date.now() - t)}`);
  }
  if (options.wild) {
    const { measureWild, wildModelNotes } = await import('./wild.mjs');
    const t = Date.now();
    const runtimes = ['auto', 'ort'];
    console.log(`wild: every wild model, onnxlet (default routing) / onnxruntime-web, Node`);
    const one = measureWild({ runtimes, runs: WILD_RUNS });
    // scikit-learn's tree ensembles in a batch too (issue 30: "within 3× onnxruntime-web" for 1 to 64 rows).
    const batches = measureWild({ names: WILD_BATCH_MODELS, runtimes, runs: WILD_RUNS, rows: 64 });
    results.wild = { runtimes, runs: WILD_RUNS, notes: wildModelNotes(), models: [...one, ...batches] };
    for (const { name, rows, results: r } of results.wild.models) {
      const cell = (x) => (x.failed ? `FAILED ${x.failed}` : `${x.ms.toFixed(2)} ms (${x.engine})`);
      console.log(`wild: ${name}${rows ? ` × ${rows}` : ''}: ${runtimes.map((n) => `${n} ${cell(r[n])}`).join(', ')}`);
    }
    console.log(`wild: ${seconds(Date.now() - t)}`);
  }

  for (const [key, paths] of Object.entries(fetchedBy)) {
    const [envName, runtime] = key.split('/');
    (results.sizes[envName] ??= {})[runtime] = runtimeDownload(paths, RUNTIME_PREFIXES[runtime], MOUNTS);
  }
  results.durationMs = Date.now() - started;

  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const json = join(dir, options.partial ? 'partial.json' : 'latest.json');
  const markdown = options.partial ? join(dir, 'partial.md') : join(root, 'docs', 'benchmarks.md');
  writeFileSync(json, `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(markdown, renderReport(results));
  console.log(`\nbench: done in ${seconds(results.durationMs)}; wrote ${json} and ${markdown}`);
  const failures = [
    ...Object.values(results.environments).flatMap((e) =>
      Object.values(e.models).flatMap((m) => ['ort', 'onnxlet'].filter((r) => m[r]?.error)),
    ),
    // onnxruntime-web's own failures on wild models (non-tensor outputs aside) are not ours.
    ...(results.decode?.rows ?? []).filter((r) => r.error && r.runtime !== 'onnxruntime-web'),
    ...(results.wild?.models ?? []).filter((m) => m.results.auto?.failed),
  ];
  if (failures.length) {
    console.error(`bench: ${failures.length} job(s) failed (see the report)`);
    process.exitCode = 1;
  }
}

/** Agreement with Infinity (a missing output or a shape mismatch) as null, for JSON. */
function finite(a) {
  const fix = (v) => (Number.isFinite(v) ? v : null);
  return { maxAbs: fix(a.maxAbs), perOutput: Object.fromEntries(Object.entries(a.perOutput).map(([k, v]) => [k, fix(v)])) };
}

await main();
