// `npm test`: sets up everything the tests need (npm deps, wasm32 target, wasm-bindgen-cli,
// Python packages, the pinned models and the ONNX node tests, Debian's chromium), builds, lints,
// and runs every suite: cargo's native tests (the ONNX node tests among them, on the full and lite builds),
// the WASI runner and component under wasmtime, the Node tests (the same node tests through both
// wasm builds), and the Chromium tests.
//
// `npm test -- FILE...` (the inner loop) runs the same set-up, then only the given Node or
// Chromium test files (or directories) against dist/ as it is: no build (unless dist/ has none),
// no lint, no cargo. Arguments starting with `--` go to `node --test`
// (`npm test -- tests/node/api.test.mjs --test-name-pattern=fetch`).
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

import { ensureChromium, ensureDeno, ensureJcoExample, ensureNpmDeps, ensureRustToolchain, fetchModels, makeNodeTests, root, run } from './setup.mjs';

const started = Date.now();
// Incremental caches are 2 GB here, and CI builds each crate once: off for every cargo run below
// (disk, not time, is what CI machines run short of).
process.env.CARGO_INCREMENTAL = '0';
const step = (name) => console.log(`\n=== ${name} (${Math.round((Date.now() - started) / 1000)} s)`);

const args = process.argv.slice(2);
if (args.length) {
  runFiles(args);
  process.exit(0);
}

step('set-up');
ensureNpmDeps();
ensureRustToolchain();
fetchModels();
makeNodeTests();
ensureChromium();
ensureDeno();
ensureJcoExample();

step('build');
run(process.execPath, [join(root, 'scripts', 'build.mjs')]);

step('lint');
// The vendored tract trees are pristine + patches: no unsaved edit in vendor/patched/.
run(process.execPath, [join(root, 'scripts', 'vendor.mjs'), '--check']);
run('cargo', ['fmt', '--check']);
// The builds: the default operator set, with relaxed SIMD, and every operator (`full`); lite and threads below.
for (const features of [[], ['--features', 'relaxed-simd'], ['--features', 'full']]) {
  run('cargo', ['clippy', '--all-targets', ...features, '--', '-D', 'warnings']);
  run('cargo', ['clippy', '--lib', '--target', 'wasm32-unknown-unknown', ...features, '--', '-D', 'warnings']);
}
// The lite engine (onnxlet's own interpreter, no tract).
const lite = ['--no-default-features', '--features', 'lite'];
// Natively with its threads (src/lite/par.rs), which its tests run on a pool.
const liteThreads = [...lite, '--features', 'threads'];
run('cargo', ['clippy', '--all-targets', ...liteThreads, '--', '-D', 'warnings']);
for (const features of [lite, [...lite, '--features', 'relaxed-simd'], liteThreads]) {
  run('cargo', ['clippy', '--lib', '--target', 'wasm32-unknown-unknown', ...features, '--', '-D', 'warnings']);
}
// The multi-threaded module's code is wasm32-only (linted here without atomics, which only the
// build needs).
run('cargo', ['clippy', '--lib', '--target', 'wasm32-unknown-unknown', '--features', 'threads', '--', '-D', 'warnings']);
// The WASI runner (natively with its tests, and for WASI on each engine) and the component (docs/wasi.md).
run('cargo', ['clippy', '-p', 'onnxlet-wasi', '--all-targets', '--', '-D', 'warnings']);
for (const features of [[], lite]) {
  run('cargo', ['clippy', '-p', 'onnxlet-wasi', '--target', 'wasm32-wasip1', ...features, '--', '-D', 'warnings']);
}
for (const features of [[], lite]) {
  run('cargo', ['clippy', '-p', 'onnxlet-component', '--target', 'wasm32-wasip2', ...features, '--', '-D', 'warnings']);
}
run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json', '--noEmit']);

step('native tests (cargo test, default build)');
run('cargo', ['test']);

step('native tests (full build: unit tests and the ONNX node tests)');
run('cargo', ['test', '--features', 'full', '--lib', '--test', 'conformance']);

step('native tests (lite build: its operators, the real models and the ONNX node tests)');
// The lite engine's kernels are onnxlet's own code: optimised, or the real models take minutes
// (debug assertions and overflow checks stay on).
// With `threads`: the same runs on one thread, and tests/lite.rs runs the real models on a pool.
run('cargo', ['test', ...liteThreads, '--config', 'profile.dev.package.onnxlet.opt-level=3', '--lib', '--test', 'lite', '--test', 'conformance']);

step("vendored tract-core's and tract-data's own unit tests (crates onnxlet patches; vendor/README.md)");
for (const crate of ['tract-core', 'tract-data']) {
  run('cargo', ['test', '--lib', '--quiet'], {
    cwd: join(root, 'vendor', 'patched', crate),
    // Not onnxlet's package, so not its profiles: no debug info here either.
    env: { ...process.env, CARGO_TARGET_DIR: join(root, 'target', 'vendor-test'), CARGO_PROFILE_DEV_DEBUG: 'false' },
  });
}

step('WASI runner: its .npy reader and command line (native unit tests)');
run('cargo', ['test', '-p', 'onnxlet-wasi', ...lite]);

step('WASI runner and component under wasmtime (real models against onnxruntime)');
run('python3', ['-m', 'unittest', 'discover', '-s', 'tests/wasi', '-v']);

step('Node tests');
run(process.execPath, ['--test', '--test-concurrency=1', 'tests/node/']);

step('operator table (docs/operators.md and src/verified_opsets.rs match this run)');
run('python3', ['scripts/operator-table.py', '--check']);
run(process.execPath, [join(root, 'scripts', 'model-table.mjs')]);

step('Chromium tests');
run(process.execPath, ['--test', '--test-concurrency=1', 'tests/browser/']);

step('all tests passed');

/** `npm test -- FILE...`: set-up, then only these test files (Node's or Chromium's). */
function runFiles(args) {
  const flags = args.filter((a) => a.startsWith('--'));
  const files = args.filter((a) => !a.startsWith('--')).map((a) => relative(root, resolve(a)));
  const suite = (f) => f.split(/[\\/]/).slice(0, 2).join('/');
  const wrong = files.filter((f) => !existsSync(join(root, f)) || !['tests/node', 'tests/browser'].includes(suite(f)));
  if (wrong.length) {
    throw new Error(
      `npm test -- FILE: ${wrong.join(', ')}: not a file or directory under tests/node/ or tests/browser/ ` +
        '(the native tests run with cargo test; CONTRIBUTING.md lists the commands)',
    );
  }
  step('set-up');
  ensureNpmDeps();
  ensureRustToolchain();
  fetchModels();
  makeNodeTests();
  if (files.some((f) => suite(f) === 'tests/browser')) ensureChromium();
  ensureDeno();
  if (!existsSync(join(root, 'dist', 'onnxlet.mjs'))) {
    step('build (dist/ is empty)');
    run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
  } else {
    console.log('dist/ as built: after changing Rust or js/, rebuild first (npm run build -- --module lite)');
  }
  step(`tests: ${files.join(' ')}`);
  run(process.execPath, ['--test', '--test-concurrency=1', ...flags, ...files]);
  step('passed');
}
