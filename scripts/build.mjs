// Builds the package: Rust → wasm (+simd128): the default operator set, the same with +relaxed-simd, the full operator set,
// the default set multi-threaded (atomics, shared memory), and the lite engine → wasm-bindgen → wasm-opt → esbuild (ESM, script tag, workers) → .d.ts;
// and the WASI runner and component (dist/wasi/, not in the npm package; docs/wasi.md).
// Every tool call lives here, so any one of them can be swapped.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

import { ensureNpmDeps, ensureRustToolchain, root, run } from './setup.mjs';

const dist = join(root, 'dist');
const pkg = join(root, 'pkg');
const WASM_OPT_FLAGS = [
  '-Os',
  '--enable-simd',
  '--enable-bulk-memory',
  '--enable-nontrapping-float-to-int',
  '--enable-sign-ext',
  '--enable-reference-types',
  '--enable-multivalue',
  '--enable-mutable-globals',
];

/**
 * The lite modules' extra wasm-opt flags. By default wasm-opt inlines every function that has one
 * caller, whatever its size, which made operator entry points of 25–67 kB. V8 runs a function in
 * its baseline tier (Liftoff) until its optimised code is ready, and the optimising compile of
 * such a function takes 25–50 ms on a background thread: in Chromium, ppocr_cls ran about 60
 * runs before its hot code was optimised, and the first runs of the convolutional models were
 * 2–4× their medians. With only functions of up to 50 bytes inlined that way, the optimising
 * compile of ppocr_cls's code takes 224 ms of CPU instead of 370, and the module is ~7 kB smaller
 * brotli (docs/speed-2026-12-07.md, "The next session").
 */
const LITE_WASM_OPT_FLAGS = ['--one-caller-inline-max-function-size', '50'];

const cargoWasm = join(root, 'target', 'wasm32-unknown-unknown', 'release', 'onnxlet.wasm');
const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * The modules in dist/: the default operator set (cargo's default features), the same with
 * relaxed SIMD (its matrix kernel multiplies and adds in one fused instruction; the JS picks it
 * where `WebAssembly.validate` accepts relaxed SIMD), and every operator tract implements
 * (`--features full`; docs/size.md). Users pick the operator set with `env.wasm.build` or
 * `env.wasm.wasmPaths`; the same JS loads all three (see `checkSameGlue`). The relaxed build is a
 * cargo feature of onnxlet's kernels alone (`relaxed-simd`), so all three share the dependencies
 * cargo has built.
 */
const BUILDS = [
  { name: 'default', features: [], file: 'onnxlet_bg.wasm', out: pkg },
  { name: 'relaxed', features: ['relaxed-simd'], file: 'onnxlet_relaxed_bg.wasm', out: join(pkg, 'relaxed') },
  { name: 'full', features: ['full'], file: 'onnxlet_full_bg.wasm', out: join(pkg, 'full') },
  { name: 'threads', features: ['threads'], file: 'onnxlet_threads_bg.wasm', out: join(pkg, 'threads'), threads: true },
  {
    name: 'threads-relaxed',
    features: ['threads', 'relaxed-simd'],
    file: 'onnxlet_threads_relaxed_bg.wasm',
    out: join(pkg, 'threads-relaxed'),
    threads: true,
  },
  // onnxlet's own interpreter (src/lite/) instead of tract: no default features. Its kernels are
  // onnxlet's own code, so onnxlet is compiled at opt-level 3 in this module (docs/size.md).
  { name: 'lite', features: ['lite'], file: 'onnxlet_lite_bg.wasm', out: join(pkg, 'lite'), lite: true },
  {
    name: 'lite-relaxed',
    features: ['lite', 'relaxed-simd'],
    file: 'onnxlet_lite_relaxed_bg.wasm',
    out: join(pkg, 'lite-relaxed'),
    lite: true,
  },
  // The lite engine multi-threaded: its matrix products and convolutions split across the pool
  // (src/lite/par.rs). The threads worker runs models on it, and on the tract threads module the
  // models it cannot run.
  {
    name: 'lite-threads',
    features: ['lite', 'threads'],
    file: 'onnxlet_lite_threads_bg.wasm',
    out: join(pkg, 'lite-threads'),
    lite: true,
    threads: true,
  },
  {
    name: 'lite-threads-relaxed',
    features: ['lite', 'threads', 'relaxed-simd'],
    file: 'onnxlet_lite_threads_relaxed_bg.wasm',
    out: join(pkg, 'lite-threads-relaxed'),
    lite: true,
    threads: true,
  },
];

/** The most the default download may weigh, brotli: the ESM bundle plus the lite module. */
const LITE_BUDGET = 400_000;

/**
 * Every module rebuilds std from its sources (`-Zbuild-std`, which stable cargo allows with
 * RUSTC_BOOTSTRAP) with std's `optimize_for_size` feature, under the release profile (opt-level
 * "z", LTO): 47 kB less brotli than the prebuilt std, which is built for speed (docs/size.md).
 * Panics keep their messages.
 */
const STD = {
  env: { RUSTC_BOOTSTRAP: '1' },
  cargo: ['-Zbuild-std=panic_abort,std', '-Zbuild-std-features=optimize_for_size'],
};

/**
 * The multi-threaded module: shared memory needs the atomics target feature in every crate,
 * std included, in a target directory of its own. Its memory may grow to 4 GiB, as the others'
 * can (a shared memory must declare its maximum).
 */
const THREADS = {
  targetDir: join(root, 'target', 'threads'),
  env: {
    RUSTFLAGS: [
      '-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128',
      // An imported shared memory, and the thread-local storage symbols wasm-bindgen's thread
      // start-up needs.
      ...['--shared-memory', '--import-memory', '--max-memory=4294967296'].map((a) => `-C link-arg=${a}`),
      ...['__wasm_init_tls', '__tls_size', '__tls_align', '__tls_base'].map((s) => `-C link-arg=--export=${s}`),
    ].join(' '),
  },
};

/**
 * The WASI builds (`--module wasi`; wasi/, docs/wasi.md), in dist/wasi/: the command-line runner
 * (wasm32-wasip1) and the component (wasm32-wasip2), each on each engine. They use the prebuilt
 * std (no -Zbuild-std: there is no JS download to shrink) and the SIMD target feature from
 * .cargo/config.toml. Cargo's output paths are per target and crate, not per feature, so each
 * build is copied out before the next one overwrites it. The components are linked without debug
 * info (the prebuilt std's DWARF), which `withoutCustomSections` removes from the runners.
 */
const WASI_BUILDS = [
  { crate: 'onnxlet-wasi', target: 'wasm32-wasip1', output: 'onnxlet.wasm', file: 'onnxlet.wasm', features: [] },
  {
    crate: 'onnxlet-wasi',
    target: 'wasm32-wasip1',
    output: 'onnxlet.wasm',
    file: 'onnxlet-lite.wasm',
    features: ['--no-default-features', '--features', 'lite', '--config', 'profile.release.package.onnxlet.opt-level=3'],
  },
  {
    crate: 'onnxlet-component',
    target: 'wasm32-wasip2',
    output: 'onnxlet_component.wasm',
    file: 'onnxlet-component.wasm',
    features: ['--config', 'profile.release.strip="debuginfo"'],
  },
  {
    crate: 'onnxlet-component',
    target: 'wasm32-wasip2',
    output: 'onnxlet_component.wasm',
    file: 'onnxlet-component-lite.wasm',
    features: [
      '--no-default-features', '--features', 'lite',
      '--config', 'profile.release.package.onnxlet.opt-level=3', '--config', 'profile.release.strip="debuginfo"',
    ],
  },
];

function buildWasi() {
  mkdirSync(join(dist, 'wasi'), { recursive: true });
  for (const { crate, target, output, file, features } of WASI_BUILDS) {
    run('cargo', ['build', '--release', '--target', target, '-p', crate, ...features]);
    const built = readFileSync(join(root, 'target', target, 'release', output));
    writeFileSync(join(dist, 'wasi', file), target === 'wasm32-wasip1' ? withoutCustomSections(built) : built);
  }
}

/**
 * A core module without its custom sections: the prebuilt std's DWARF and the function names
 * (2.1 MB of the tract runner's 8.6). Panics still print their message (wasi/cli/src/main.rs).
 * (A component nests its modules, so it is left whole.)
 */
function withoutCustomSections(bytes) {
  const kept = [bytes.subarray(0, 8)];
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    at += 1;
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      size += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    at += size;
    if (bytes[start] !== 0) kept.push(bytes.subarray(start, at));
  }
  if (at !== bytes.length) throw new Error('withoutCustomSections: truncated module');
  return Buffer.concat(kept);
}

/** Builds one module: Rust → wasm-bindgen → wasm-opt → dist/`file`. */
function buildWasm({ features, file, out, threads = false, lite = false }) {
  // `cargo build` would silently drop `lto = true`: the crate is also an rlib (rust-lang/cargo#9672).
  run('cargo', [
    'rustc', '--release', '--target', 'wasm32-unknown-unknown', '--lib', '--crate-type', 'cdylib',
    ...(lite ? ['--no-default-features', '--config', 'profile.release.package.onnxlet.opt-level=3'] : []),
    ...(features.length ? ['--features', features.join(',')] : []),
    ...STD.cargo,
    ...(threads ? ['--target-dir', THREADS.targetDir] : []),
  ], { env: { ...process.env, ...STD.env, ...(threads ? THREADS.env : {}) } });
  run('wasm-bindgen', [
    '--target', 'web',
    '--out-dir', out,
    '--out-name', 'onnxlet',
    threads ? join(THREADS.targetDir, 'wasm32-unknown-unknown', 'release', 'onnxlet.wasm') : cargoWasm,
  ]);
  // wasm-opt takes minutes on tract: skip it when its input and flags have not changed.
  const input = join(out, 'onnxlet_bg.wasm');
  const stampPath = join(out, 'wasm-opt.stamp');
  const flags = [
    ...WASM_OPT_FLAGS,
    ...(features.includes('relaxed-simd') ? ['--enable-relaxed-simd'] : []),
    ...(threads ? ['--enable-threads'] : []),
    ...(lite ? LITE_WASM_OPT_FLAGS : []),
  ];
  const stamp = `${sha256(input)} ${flags.join(' ')}`;
  const optimised = join(out, 'onnxlet_bg.opt.wasm');
  if (process.env.ONNXLET_SKIP_WASM_OPT === '1') {
    copyFileSync(input, join(dist, file));
    return;
  }
  if (!existsSync(optimised) || !existsSync(stampPath) || readFileSync(stampPath, 'utf8') !== stamp) {
    run(join(root, 'node_modules', 'binaryen', 'bin', 'wasm-opt'), [...flags, input, '-o', optimised]);
    writeFileSync(stampPath, stamp);
  }
  copyFileSync(optimised, join(dist, file));
}

/**
 * The JS bundles one wasm-bindgen glue (the default build's) for every module but the
 * multi-threaded ones (whose worker bundles theirs, the plain one's, see buildJs), which is right
 * only while all export the same functions and import the same host functions: operator groups
 * and target features add no export, and the only import one adds (`random`'s
 * `crypto.getRandomValues`) is in all.
 */
function checkSameGlue() {
  for (const threads of [false, true]) {
    checkSameGlueOf(BUILDS.filter((b) => Boolean(b.threads) === threads && !b.lite));
  }
  // The plain lite module is compiled to read its imports and exports (Node 20 compiles no
  // relaxed SIMD without a flag); its relaxed-SIMD twin has the same glue, so the same ones.
  checkSubsetGlue(BUILDS[0], BUILDS.find((b) => b.name === 'lite'));
  for (const threads of [false, true]) {
    checkSameGlueOf(BUILDS.filter((b) => b.lite && Boolean(b.threads) === threads));
  }
}

/**
 * The lite module has no tract, so it lacks `random`'s import and its glue differs; the default
 * glue still loads it while it exports what the default module exports and imports nothing else.
 */
function checkSubsetGlue(main, build) {
  const module = (b) => new WebAssembly.Module(readFileSync(join(b.out, 'onnxlet_bg.wasm')));
  const [a, b] = [module(main), module(build)];
  const key = (d) => `${d.module ?? ''}.${d.name}:${d.kind}`;
  const exports = (m) => WebAssembly.Module.exports(m).map(key).sort().join(' ');
  const known = new Set(WebAssembly.Module.imports(a).map(key));
  const extra = WebAssembly.Module.imports(b).map(key).filter((k) => !known.has(k));
  if (exports(a) !== exports(b) || extra.length) {
    throw new Error(
      `dist/${build.file} needs its own JS glue: its exports differ from dist/${main.file}'s, or it imports ${extra.join(', ') || 'nothing new'}`,
    );
  }
}

function checkSameGlueOf([first, ...others]) {
  for (const build of others) {
    for (const name of ['onnxlet.js', 'onnxlet.d.ts']) {
      if (!readFileSync(join(first.out, name)).equals(readFileSync(join(build.out, name)))) {
        throw new Error(
          `${join(build.out, name)} differs from ${join(first.out, name)}: dist/${build.file} needs its own JS glue`,
        );
      }
    }
  }
}

/**
 * wasm-bindgen's glue holds one instance in module-level variables. The wrapper gives every
 * session an instance of its own (so that a crash loses that session alone, and a release returns
 * its memory), so next to each glue goes `onnxlet.factory.js`: the same code inside a function
 * that makes a fresh copy. The multi-threaded module has one instance, shared with its pool's
 * workers (js/threads-worker.ts): its factory returns the glue itself.
 */
function writeGlueFactories() {
  const types = "import type * as Glue from './onnxlet.js';\nexport function createGlue(): typeof Glue;\n";
  for (const dir of [pkg, join(pkg, 'lite'), join(pkg, 'threads'), join(pkg, 'lite-threads')]) {
    const gluePath = join(dir, 'onnxlet.js');
    if (!existsSync(gluePath)) continue;
    const header = '/* @ts-self-types="./onnxlet.factory.d.ts" */\n// Made by scripts/build.mjs from onnxlet.js (writeGlueFactories): do not edit.\n';
    let body;
    if (dir.endsWith('threads')) {
      body = "import * as glue from './onnxlet.js';\n\n/** The glue itself: the multi-threaded module has one instance. */\nexport function createGlue() {\n  return glue;\n}\n";
    } else {
      body = glueFactory(readFileSync(gluePath, 'utf8'), gluePath);
    }
    writeIfChanged(join(dir, 'onnxlet.factory.js'), header + body);
    writeIfChanged(join(dir, 'onnxlet.factory.d.ts'), types);
  }
}

/** The glue's code as the body of `createGlue`, which returns what the glue exports. */
function glueFactory(glue, gluePath) {
  const names = [];
  let code = glue.replace(/^\/\* @ts-self-types=.*\*\/\n/, '');
  if (/^\s*import\b/m.test(code)) throw new Error(`${gluePath} imports other modules: writeGlueFactories cannot wrap it`);
  code = code.replace(/^export (class|function|async function) ([\w$]+)/gm, (_, kind, name) => {
    names.push([name, name]);
    return `${kind} ${name}`;
  });
  code = code.replace(/^export \{([^}]*)\};\n/gm, (_, list) => {
    for (const item of list.split(',')) {
      const [local, exported = local] = item.trim().split(/\s+as\s+/);
      names.push([exported, local]);
    }
    return '';
  });
  if (/^export\b/m.test(code)) throw new Error(`${gluePath} has an export writeGlueFactories does not know`);
  if (!names.some(([exported]) => exported === 'default')) throw new Error(`${gluePath} has no default export (init)`);
  const returned = names.map(([exported, local]) => (exported === local ? `    ${local},` : `    ${exported}: ${local},`)).join('\n');
  const indented = code.replace(/^(?=.)/gm, '  ');
  return `/** A fresh copy of the glue, for one more instance of the module. */\nexport function createGlue() {\n${indented}\n  return {\n${returned}\n  };\n}\n`;
}

function writeIfChanged(path, text) {
  if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileSync(path, text);
}

async function buildJs() {
  writeGlueFactories();
  const esbuild = await import('esbuild');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  /** The compile-time constants of one bundle: the script-tag build's, and the threads worker's. */
  const define = ({ iife = false, threads = false } = {}) => ({
    __ONNXLET_VERSION__: JSON.stringify(version),
    __ONNXLET_IIFE__: String(iife),
    __ONNXLET_THREADS__: String(threads),
  });
  const common = {
    entryPoints: [join(root, 'js', 'index.ts')],
    bundle: true,
    target: 'es2022',
    legalComments: 'none',
    logLevel: 'warning',
    logOverride: { 'empty-import-meta': 'silent' },
  };
  await esbuild.build({
    ...common,
    format: 'esm',
    platform: 'neutral',
    outfile: join(dist, 'onnxlet.mjs'),
    define: define(),
  });
  // The CommonJS entry, for `require('onnxlet')` where Node cannot require ESM (before 20.19):
  // the same code, with `import.meta.url` this file's URL (the modules and workers beside it).
  await esbuild.build({
    ...common,
    format: 'cjs',
    platform: 'node',
    outfile: join(dist, 'onnxlet.cjs'),
    define: { ...define(), 'import.meta.url': '__onnxlet_url' },
    banner: { js: "'use strict';\nvar __onnxlet_url = require('node:url').pathToFileURL(__filename).href;" },
  });
  await esbuild.build({
    ...common,
    entryPoints: [join(root, 'js', 'worker.ts')],
    format: 'esm',
    platform: 'neutral',
    minify: true,
    outfile: join(dist, 'onnxlet.worker.mjs'),
    define: define(),
  });
  // The multi-threaded worker: the session worker's code on the threads builds' glue (every
  // import of pkg/onnxlet.js or its factory resolves to pkg/threads/'s, of pkg/lite/'s to
  // pkg/lite-threads/'s).
  const threadsGlue = {
    name: 'threads-glue',
    setup(build) {
      const redirects = [
        [/[/\\]pkg[/\\]onnxlet\.js$/, join(pkg, 'threads', 'onnxlet.js')],
        [/[/\\]pkg[/\\]onnxlet\.factory\.js$/, join(pkg, 'threads', 'onnxlet.factory.js')],
        [/[/\\]pkg[/\\]lite[/\\]onnxlet\.js$/, join(pkg, 'lite-threads', 'onnxlet.js')],
        [/[/\\]pkg[/\\]lite[/\\]onnxlet\.factory\.js$/, join(pkg, 'lite-threads', 'onnxlet.factory.js')],
      ];
      for (const [filter, path] of redirects) build.onResolve({ filter }, () => ({ path }));
    },
  };
  // Before the threads modules' first build (`--module default,lite` on a fresh clone, or
  // `npm start`'s first step), there is no glue for their worker: the worker is left out.
  const threadsBuilt = ['threads', 'lite-threads'].every((dir) => existsSync(join(pkg, dir, 'onnxlet.js')));
  if (!threadsBuilt) {
    console.log('no threads modules in pkg/ yet: dist/onnxlet.threads.worker.mjs left out (build --module threads,lite-threads)');
  }
  if (threadsBuilt) {
    await esbuild.build({
      ...common,
      entryPoints: [join(root, 'js', 'threads-worker.ts')],
      format: 'esm',
      platform: 'neutral',
      minify: true,
      plugins: [threadsGlue],
      outfile: join(dist, 'onnxlet.threads.worker.mjs'),
      define: define({ threads: true }),
    });
  }
  await esbuild.build({
    ...common,
    format: 'iife',
    globalName: 'onnxlet',
    platform: 'browser',
    minify: true,
    outfile: join(dist, 'onnxlet.min.js'),
    define: define({ iife: true }),
  });
  if (threadsBuilt) {
    run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json']);
  } else {
    // The same declarations without the threads worker, which needs the threads glue's types.
    const config = join(pkg, 'tsconfig.no-threads.json');
    writeFileSync(config, JSON.stringify({ extends: '../tsconfig.build.json', include: ['../js/**/*.ts'], exclude: ['../js/threads-worker.ts'] }));
    run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', config]);
  }
  // Internal modules: no public declaration refers to them.
  for (const internal of ['flags', 'module-config', 'wasm', 'module', 'backend', 'local-file', 'threads', 'threads-worker', 'worker', 'worker-backend', 'worker-protocol']) {
    rmSync(join(dist, `${internal}.d.ts`), { force: true });
  }
  writeCjsTypes();
}

/**
 * The declarations again as `.d.cts`, for TypeScript's view of `require('onnxlet')`: in a
 * `"type": "module"` package a `.d.ts` declares an ES module, which CommonJS code before Node
 * 20.19 cannot require.
 */
function writeCjsTypes() {
  for (const file of readdirSync(dist).filter((f) => f.endsWith('.d.ts'))) {
    const types = readFileSync(join(dist, file), 'utf8').replace(/((?:from |import\()'\.\/[\w-]+)\.js'/g, "$1.cjs'");
    writeFileSync(join(dist, file.replace(/\.d\.ts$/, '.d.cts')), types);
  }
}

const brotli = (name) =>
  brotliCompressSync(readFileSync(join(dist, name)), { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

function reportSizes(builds, wasi) {
  const files = [
    ...builds.map((b) => b.file),
    ...(wasi ? WASI_BUILDS.map((b) => join('wasi', b.file)) : []),
    'onnxlet.mjs',
    'onnxlet.min.js',
    'onnxlet.worker.mjs',
    'onnxlet.threads.worker.mjs',
  ].filter((name) => existsSync(join(dist, name)));
  const rows = files.map((name) => {
    const bytes = readFileSync(join(dist, name));
    return { file: `dist/${name}`, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, brotli: brotli(name) };
  });
  console.log('\nsize (bytes)');
  console.table(rows);
}

/**
 * Fails the build when the JS and the lite module a page fetches (the plain one or its
 * relaxed-SIMD twin, whichever is in dist/) weigh more than the budget.
 */
function checkBudget() {
  for (const module of ['onnxlet_lite_bg.wasm', 'onnxlet_lite_relaxed_bg.wasm']) {
    if (!existsSync(join(dist, module))) continue;
    const total = brotli('onnxlet.mjs') + brotli(module);
    const line = `dist/onnxlet.mjs + dist/${module}: ${total} bytes brotli (budget ${LITE_BUDGET})`;
    if (total > LITE_BUDGET) throw new Error(`size budget exceeded: ${line}`);
    console.log(line);
  }
}

/**
 * `--module a,b` builds only those modules (names in BUILDS, or `wasi`), for a fast inner loop;
 * `--module js` only the JS bundles, on the modules already in pkg/.
 */
function selectedBuilds() {
  const at = process.argv.indexOf('--module');
  if (at < 0) return { builds: BUILDS, wasi: true };
  const names = (process.argv[at + 1] ?? '').split(',');
  const known = [...BUILDS.map((b) => b.name), 'wasi', 'js'];
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length) {
    throw new Error(`--module: unknown ${unknown.join(', ')} (one or more of ${known.join(', ')})`);
  }
  return { builds: BUILDS.filter((b) => names.includes(b.name)), wasi: names.includes('wasi') };
}

const { builds, wasi } = selectedBuilds();
mkdirSync(dist, { recursive: true });
ensureNpmDeps();
ensureRustToolchain();
for (const build of builds) buildWasm(build);
if (wasi) buildWasi();
if (builds === BUILDS) checkSameGlue();
await buildJs();
reportSizes(builds, wasi);
if (builds.some((b) => b.lite)) checkBudget();
