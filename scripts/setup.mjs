// Idempotent set-up shared by `npm start` and `npm test`: every tool and file the build, the
// demos and the tests need, installed only when missing. Uses Node built-ins only, so it can run
// before `npm install`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePatched } from './vendor.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function run(cmd, args, options = {}) {
  console.log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

function output(cmd, args, options = {}) {
  try {
    return execFileSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], ...options }).trim();
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

/**
 * jco and WASI's JS shims for examples/js-jco (the component in Node; tests/node/wasi-jco.test.mjs),
 * at the exact versions its package.json names (examples keep no lock file: examples/.gitignore).
 */
export function ensureJcoExample() {
  const dir = join(root, 'examples', 'js-jco');
  const stamp = join(dir, 'node_modules', '.package-lock.json');
  if (mtime(stamp) >= mtime(join(dir, 'package.json')) && existsSync(join(dir, 'node_modules', '.bin', 'jco'))) return;
  run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: dir });
}

/** The wasm-bindgen crate version, read from Cargo.lock. */
export function wasmBindgenVersion() {
  const lock = readFileSync(join(root, 'Cargo.lock'), 'utf8');
  const m = lock.match(/name = "wasm-bindgen"\nversion = "([^"]+)"/);
  if (!m) throw new Error('wasm-bindgen is not in Cargo.lock');
  return m[1];
}

/** rust-toolchain.toml's channel, components and targets. */
export function pinnedToolchain() {
  const toml = readFileSync(join(root, 'rust-toolchain.toml'), 'utf8');
  const string = (key) => toml.match(new RegExp(`^${key} = "([^"]+)"`, 'm'))?.[1];
  const list = (key) => [...(toml.match(new RegExp(`^${key} = \\[([^\\]]*)\\]`, 'm'))?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  const channel = string('channel');
  if (!channel) throw new Error('rust-toolchain.toml names no channel');
  return { channel, components: list('components'), targets: list('targets') };
}

/**
 * The toolchain rust-toolchain.toml pins. When rustup's `stable` is that very version (a fresh
 * machine with rustup's default install, say), `stable` is made to serve under the pinned name
 * too, as a symbolic link in rustup's toolchains directory named as rustup names an installed
 * release (`rustup toolchain link` refuses release names): rustup then manages its components
 * and targets as the release's, and nothing is downloaded twice. Otherwise rustup installs the
 * pinned release. Runs outside the project directory, or with `+stable`, so that no rustup
 * call here installs the pinned toolchain by itself first.
 */
function ensurePinnedToolchain({ channel }) {
  const outside = { cwd: tmpdir() };
  const installed = (output('rustup', ['toolchain', 'list'], outside) ?? '').split('\n').map((l) => l.split(' ')[0]);
  if (installed.some((t) => t === channel || t.startsWith(`${channel}-`))) return;
  const stable = output('rustc', ['+stable', '-vV'], outside) ?? '';
  const host = stable.match(/^host: (\S+)/m)?.[1];
  const home = output('rustup', ['show', 'home'], outside);
  if (stable.match(/^release: (\S+)/m)?.[1] === channel && host && home) {
    const sysroot = output('rustc', ['+stable', '--print', 'sysroot'], outside);
    const link = join(home, 'toolchains', `${channel}-${host}`);
    console.log(`$ ln -s ${sysroot} ${link}  (rustup's stable is ${channel})`);
    symlinkSync(sysroot, link);
    return;
  }
  run('rustup', ['toolchain', 'install', channel, '--profile', 'minimal']);
}

/**
 * The pinned toolchain with its components and targets (the standard library's sources among
 * them: every module rebuilds std, scripts/build.mjs), and wasm-bindgen-cli at exactly the
 * crate's version.
 */
export function ensureRustToolchain() {
  // The vendored tract crates Cargo builds (vendor/patched/, pristine + patches): a fresh clone
  // has none, and a pull may change a patch.
  ensurePatched();
  const pinned = pinnedToolchain();
  ensurePinnedToolchain(pinned);
  const targets = (output('rustup', ['target', 'list', '--installed']) ?? '').split('\n');
  const missingTargets = pinned.targets.filter((t) => !targets.includes(t));
  if (missingTargets.length) run('rustup', ['target', 'add', ...missingTargets]);
  // Installed components are listed with their host (`clippy-x86_64-unknown-linux-gnu`).
  const components = (output('rustup', ['component', 'list', '--installed']) ?? '').split('\n');
  const missing = pinned.components.filter((c) => !components.some((i) => i === c || i.startsWith(`${c}-`)));
  if (missing.length) run('rustup', ['component', 'add', ...missing]);
  const version = wasmBindgenVersion();
  const installed = output('wasm-bindgen', ['--version']);
  if (installed !== `wasm-bindgen ${version}`) {
    run('cargo', ['install', 'wasm-bindgen-cli', '--version', version, '--force']);
  }
}

/** Python packages used to fetch the models and compute reference outputs. */
export function ensurePythonDeps() {
  const modules = 'import onnx, onnxruntime, numpy, magika, tokenizers, onnxconverter_common, wasmtime.component, sklearn, skl2onnx';
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
