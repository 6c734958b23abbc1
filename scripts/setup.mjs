// Idempotent set-up shared by `npm start` and `npm test`: every tool and file the build, the
// demos and the tests need, installed only when missing. Uses Node built-ins only, so it can run
// before `npm install`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function run(cmd, args, options = {}) {
  console.log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

function output(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

/** npm dependencies, installed from the lock file when it changed since the last install. */
export function ensureNpmDeps() {
  const stamp = join(root, 'node_modules', '.package-lock.json');
  if (mtime(stamp) >= mtime(join(root, 'package-lock.json')) && existsSync(join(root, 'node_modules', 'esbuild'))) return;
  run('npm', ['ci', '--no-audit', '--no-fund', '--foreground-scripts']);
}

/** The wasm-bindgen crate version, read from Cargo.lock. */
export function wasmBindgenVersion() {
  const lock = readFileSync(join(root, 'Cargo.lock'), 'utf8');
  const m = lock.match(/name = "wasm-bindgen"\nversion = "([^"]+)"/);
  if (!m) throw new Error('wasm-bindgen is not in Cargo.lock');
  return m[1];
}

/** The wasm32 target, the standard library's sources and wasm-bindgen-cli at exactly the crate's version. */
export function ensureRustToolchain() {
  const targets = output('rustup', ['target', 'list', '--installed']) ?? '';
  if (!targets.split('\n').includes('wasm32-unknown-unknown')) {
    run('rustup', ['target', 'add', 'wasm32-unknown-unknown']);
  }
  // Every module rebuilds std from its sources (`-Zbuild-std`; scripts/build.mjs).
  const components = output('rustup', ['component', 'list', '--installed']) ?? '';
  if (!components.split('\n').includes('rust-src')) run('rustup', ['component', 'add', 'rust-src']);
  const version = wasmBindgenVersion();
  const installed = output('wasm-bindgen', ['--version']);
  if (installed !== `wasm-bindgen ${version}`) {
    run('cargo', ['install', 'wasm-bindgen-cli', '--version', version, '--force']);
  }
}

/** Python packages used to fetch the models and compute reference outputs. */
export function ensurePythonDeps() {
  const modules = 'import onnx, onnxruntime, numpy, magika, tokenizers, onnxconverter_common, sklearn, skl2onnx';
  const ok = spawnSync('python3', ['-c', modules], { cwd: root, stdio: 'ignore' });
  if (ok.status === 0) return;
  run('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', 'scripts/requirements.txt']);
}

/**
 * The pinned real models and their reference outputs, in the git-ignored cache; with every
 * model, also the converters' versions of some (scripts/make-wild-models.py, a few seconds).
 */
export function fetchModels(only) {
  ensurePythonDeps();
  run('python3', ['scripts/fetch-models.py', ...(only ? ['--only', only] : [])]);
  if (!only) run('python3', ['scripts/make-wild-models.py']);
}

/** The ONNX backend node test cases, generated from the pinned onnx package. */
export function makeNodeTests() {
  ensurePythonDeps();
  run('python3', ['scripts/make-node-tests.py']);
}

export const DENO_VERSION = '2.9.6';

/**
 * Deno, for the Deno example: from npm into `.cache/tools` (not a dev dependency, because the
 * registry lacks some of its other platforms' packages, which `npm ci` then refuses). Returns
 * the binary's path.
 */
export function ensureDeno() {
  const tools = join(root, '.cache', 'tools');
  const deno = join(tools, 'node_modules', '.bin', 'deno');
  if (output(deno, ['--version'])?.startsWith(`deno ${DENO_VERSION}`)) return deno;
  run('npm', ['install', '--prefix', tools, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `deno@${DENO_VERSION}`]);
  return deno;
}

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's chromium for the browser tests. */
export function ensureChromium() {
  if (existsSync(chromiumPath)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) =>
    process.getuid?.() === 0 ? run('apt-get', args, { env }) : run('sudo', ['-E', 'apt-get', ...args], { env });
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', 'chromium']);
  if (!existsSync(chromiumPath)) throw new Error(`chromium was installed but ${chromiumPath} is missing`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureNpmDeps();
  ensureRustToolchain();
  fetchModels();
}
