// Command-line options of `npm run bench` (node bench/run.mjs).

export const USAGE = `usage: npm run bench -- [options]

  --quick            3 small models, 2 warm-up and 5 timed runs (for development)
  --models a,b       only these models (names from .cache/models/index.json)
  --runs N           timed runs per model and runtime after warm-up (default 95: memory is read
                     after warm-up + N = 100 runs)
  --warmup N         warm-up runs, the first included (default 5)
  --starts N         fresh pages or processes per model, runtime and environment that measure
                     session create, warm create and cold start, reported as their median
                     (default 3: the first also times the runs; the others stop after the
                     first run and the warm create; 1 with --quick)
  --budget S         stop the timed runs of a job after S seconds once 20 are done (default 30;
                     0 = always N); memory is read after the runs done, and the count reported
  --node-only        only the Node benchmark
  --browser-only     only the Chromium benchmark
  --single-thread    skip the cross-origin isolated (all cores) Chromium variant
  --build NAME       which onnxlet module to measure: default (tract), lite (onnxlet's own
                     engine) or full; lite and full have no multi-threaded module, so they imply
                     --single-thread
  --no-decode        skip the decode-per-token rows (Node: GPT-2 and Llama decoders, three layouts)
  --no-wild          skip the wild models (Node: every model of scripts/make-wild-models.py)
  --note TEXT        a remark printed in the report (e.g. "shared machine")
  --help             this text

The decode rows and the wild models run in Node after the 14 models, unless --quick, --models,
--browser-only or a --build other than auto is given.

A full run (no --quick, --models, --node-only, --browser-only, --single-thread, --build,
--no-decode or --no-wild) writes bench/results/latest.json and docs/benchmarks.md; any other run
writes bench/results/partial.json and bench/results/partial.md (git-ignored).`;

/** Parses argv (without node and the script) into options; throws on anything unknown. */
export function parseOptions(argv) {
  const options = {
    quick: false,
    models: undefined,
    runs: undefined,
    warmup: undefined,
    budget: undefined,
    starts: undefined,
    node: true,
    browser: true,
    threads: true,
    note: undefined,
    build: 'auto',
    decode: true,
    wild: true,
    help: false,
  };
  const value = (i, flag) => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
  };
  const count = (text, flag, min) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer ≥ ${min}, not ${text}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const take = () => (inline !== undefined ? inline : value(i++, flag));
    switch (flag) {
      case '--quick': options.quick = true; break;
      case '--models': options.models = take().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--runs': options.runs = count(take(), flag, 1); break;
      case '--warmup': options.warmup = count(take(), flag, 1); break;
      case '--budget': options.budget = count(take(), flag, 0); break;
      case '--starts': options.starts = count(take(), flag, 1); break;
      case '--node-only': options.browser = false; break;
      case '--browser-only': options.node = false; break;
      case '--single-thread': options.threads = false; break;
      case '--no-decode': options.decode = false; break;
      case '--no-wild': options.wild = false; break;
      case '--note': options.note = take(); break;
      case '--build': options.build = take(); break;
      case '--help': case '-h': options.help = true; break;
      default: throw new Error(`unknown option ${arg}\n\n${USAGE}`);
    }
  }
  if (!options.node && !options.browser) throw new Error('--node-only and --browser-only exclude each other');
  if (!['auto', 'lite', 'tract', 'full'].includes(options.build)) {
    throw new Error(`--build must be auto, lite, tract or full, not ${options.build}`);
  }
  // The full build has no multi-threaded module.
  if (options.build === 'full') options.threads = false;
  options.warmup ??= options.quick ? 2 : 5;
  options.runs ??= options.quick ? 5 : 100 - options.warmup;
  options.budget ??= 30;
  options.starts ??= options.quick ? 1 : 3;
  // The extra Node sections go with the whole set of models on the default routing.
  const extras = options.node && !options.quick && options.models === undefined && options.build === 'auto';
  options.decode &&= extras;
  options.wild &&= extras;
  options.partial =
    options.quick || options.models !== undefined || !options.node || !options.browser || !options.threads ||
    options.build !== 'auto' || !options.decode || !options.wild;
  return options;
}
