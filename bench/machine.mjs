// What the numbers were measured on and with.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';

import { root } from '../tests/support/models.mjs';
import { benchDist } from './dist.mjs';

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

function osName() {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const pretty = text.match(/^PRETTY_NAME="?([^"\n]*)"?$/m)?.[1];
    if (pretty) return `${pretty} (${type()} ${release()})`;
  } catch {
    // not Linux
  }
  return `${type()} ${release()}`;
}

function git(args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** CPU, cores, memory, OS, Node, and the load average now (the machine may be shared). */
export function machine() {
  const list = cpus();
  return {
    cpu: list[0]?.model?.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    node: process.version,
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** The names of a wasm binary's custom sections (a walk over the section headers). */
export function customSections(bytes) {
  const names = [];
  let at = 8;
  const leb = () => {
    let value = 0;
    let shift = 0;
    let byte;
    do {
      byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 0) {
      const length = leb();
      names.push(new TextDecoder().decode(bytes.subarray(at, at + length)));
    }
    at = end;
  }
  return names;
}

/**
 * The versions of both runtimes, with the onnxlet commit and the hash of the wasm measured (the
 * snapshot): for `build` (`env.wasm.build`) 'auto' the lite module, which the models run on
 * unless they need tract (the engine column of each model says).
 */
export function versions(build = 'auto') {
  const file = { auto: 'onnxlet_lite_bg.wasm', tract: 'onnxlet_bg.wasm' }[build] ?? `onnxlet_${build}_bg.wasm`;
  const wasm = readFileSync(join(benchDist, file));
  const dirty = git(['status', '--porcelain', '--', 'src', 'js', 'Cargo.toml', 'Cargo.lock']);
  return {
    onnxlet: readJson(join(root, 'package.json')).version,
    onnxletBuild: build,
    onnxletCommit: git(['rev-parse', '--short', 'HEAD']),
    onnxletSourceDirty: dirty === undefined ? undefined : dirty.length > 0,
    onnxletWasmSha256: createHash('sha256').update(wasm).digest('hex').slice(0, 16),
    // wasm-opt strips the name section: its presence means a build with ONNXLET_SKIP_WASM_OPT.
    onnxletWasmNameSection: customSections(wasm).includes('name'),
    onnxruntimeWeb: readJson(join(root, 'node_modules', 'onnxruntime-web', 'package.json')).version,
  };
}
