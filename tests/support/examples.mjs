// The examples in examples/ as a user runs them: onnxlet packed once with `npm pack`, each example
// copied to a temporary directory and the tarball installed into it offline.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { ensureDeno } from '../../scripts/setup.mjs';
import { root } from './models.mjs';

/** What a checkout may hold in an example directory that a fresh copy must not. */
const LOCAL = new Set(['node_modules', 'dist', 'magika', 'package-lock.json', 'deno.lock', 'bun.lock', 'bun.lockb']);

export const examplesDir = join(root, 'examples');
/** A tool's binary: Deno from the set-up's tool cache, the others from node_modules. */
export const bin = (name) => (name === 'deno' ? ensureDeno() : join(root, 'node_modules', '.bin', name));

let work;
let tarball;

/**
 * Runs a command to completion; resolves to { status, stdout, stderr } and never rejects on a
 * non-zero exit (the caller asserts on it).
 */
export function run(cmd, args, { cwd, env = {}, timeout = 300_000 } = {}) {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, timeout, maxBuffer: 64 << 20, env: { ...process.env, npm_config_loglevel: 'error', NO_COLOR: '1', ...env } },
      (error, stdout, stderr) => resolve({ status: error ? (error.code ?? error.signal) : 0, stdout, stderr }),
    );
  });
}

/** Like {@link run}, but throws with the command's output unless it exits with 0. */
export async function mustRun(cmd, args, options) {
  const r = await run(cmd, args, options);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function packOnce() {
  if (!tarball) {
    work = mkdtempSync(join(tmpdir(), 'onnxlet-examples-'));
    tarball = (async () => {
      await mustRun('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root });
      return join(work, readdirSync(work).find((f) => f.endsWith('.tgz')));
    })();
  }
  return tarball;
}

/**
 * Copies examples/<name> to a fresh directory and installs the packed onnxlet there, offline. Its
 * dev tools (vite) are dropped from the copy's package.json, since resolving them would need the
 * registry: the tests run the repository's. Resolves to the copy's path.
 */
export async function installExample(name) {
  const pkg = await packOnce();
  const dir = join(work, name);
  cpSync(join(examplesDir, name), dir, { recursive: true, filter: (src) => !LOCAL.has(basename(src)) });
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  delete manifest.devDependencies;
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  await mustRun('npm', ['install', '--offline', '--no-audit', '--no-fund', pkg], { cwd: dir });
  return dir;
}

/** Removes the packed tarball and every installed copy. */
export function removeExamples() {
  if (work) rmSync(work, { recursive: true, force: true });
  work = undefined;
  tarball = undefined;
}
