// The shipping pipeline of scripts/build.mjs for one cargo wasm, with every stage kept and measured:
// cargo wasm → wasm-bindgen (names kept: what twiggy reads) → wasm-opt FLAGS -g (names kept) →
// the same without custom sections (what would ship). Prints a JSON line of raw/gzip/brotli sizes.
// `node scripts/size/pipeline.mjs target/.../onnxlet.wasm .size/<label> [wasm-opt flags...]`
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

import { sections, stripCustom } from './wasm-sections.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const FEATURES = ['--enable-simd', '--enable-bulk-memory', '--enable-nontrapping-float-to-int',
  '--enable-sign-ext', '--enable-reference-types', '--enable-multivalue', '--enable-mutable-globals'];

export function sizes(bytes) {
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }).length,
  };
}

const [input, outDir, ...optFlags] = process.argv.slice(2);
const flags = optFlags.length ? optFlags : ['-Os'];
mkdirSync(outDir, { recursive: true });
copyFileSync(input, join(outDir, 'cargo.wasm'));
const t0 = Date.now();
execFileSync('wasm-bindgen', ['--target', 'web', '--experimental-reset-state-function', '--out-dir', outDir,
  '--out-name', 'onnxlet', join(outDir, 'cargo.wasm')], { stdio: 'inherit' });
const t1 = Date.now();
const bindgen = join(outDir, 'onnxlet_bg.wasm');
const named = join(outDir, 'opt.names.wasm');
execFileSync(join(root, 'node_modules', 'binaryen', 'bin', 'wasm-opt'), [...flags, ...FEATURES, '-g', bindgen, '-o', named],
  { stdio: 'inherit' });
const t2 = Date.now();
const shipped = stripCustom(readFileSync(named));
writeFileSync(join(outDir, 'shipped.wasm'), shipped);
const code = (bytes) => Object.fromEntries(sections(bytes).filter((s) => ['code', 'data'].includes(s.name) || s.name === 'custom:name').map((s) => [s.name, s.size]));
const result = {
  label: outDir,
  flags: flags.join(' '),
  cargo: { ...sizes(readFileSync(input)), ...code(readFileSync(input)) },
  bindgen: { ...sizes(readFileSync(bindgen)), ...code(readFileSync(bindgen)) },
  shipped: { ...sizes(shipped), ...code(shipped) },
  seconds: { bindgen: (t1 - t0) / 1000, wasmOpt: (t2 - t1) / 1000 },
};
writeFileSync(join(outDir, 'sizes.json'), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
