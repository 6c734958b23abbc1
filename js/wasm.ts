// Which WebAssembly modules this thread loads, from where, and in which order a model tries them.
// Their lifecycle is js/module.ts's.
import * as liteGlue from '../pkg/lite/onnxlet.js';
import * as tractGlue from '../pkg/onnxlet.js';

import { type EngineName, type WasmCode, env } from './env.js';
import { OnnxletError } from './errors.js';
import { readLocalFile } from './local-file.js';
import { type ModuleCode, WasmModule } from './module.js';

declare const __ONNXLET_IIFE__: boolean;
/** True in the multi-threaded worker's bundle, whose tract glue is the threads build's. */
declare const __ONNXLET_THREADS__: boolean;

/** The values `env.wasm.build` takes; `'default'` is the old name of `'tract'`. */
const BUILDS = ['auto', 'lite', 'tract', 'full', 'default'] as const;

/** The `src` of the `<script>` tag that loaded the script-tag build, read while it executes. */
export const scriptSrc: string | undefined =
  __ONNXLET_IIFE__ && typeof document !== 'undefined'
    ? ((document.currentScript as HTMLScriptElement | null)?.src ?? undefined)
    : undefined;

/** `env.wasm.build`, checked; unset is `'auto'`. */
export function build(): (typeof BUILDS)[number] {
  const { build } = env.wasm;
  if (build === undefined) return 'auto';
  if (!(BUILDS as readonly unknown[]).includes(build)) {
    throw new OnnxletError(
      'INVALID_ARGUMENT',
      `env.wasm.build must be 'auto', 'lite', 'tract' or 'full', not ${JSON.stringify(build)}`,
    );
  }
  return build;
}

/** A module of one function using one relaxed-SIMD instruction (`i8x16.relaxed_swizzle`). */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15,
  253, 128, 2, 11,
]);

/** `env.wasm.relaxedSimd`, or, when unset, whether the engine validates relaxed SIMD. */
function useRelaxedSimd(): boolean {
  const { relaxedSimd } = env.wasm;
  if (relaxedSimd !== undefined) return relaxedSimd;
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The file of the tract module `env.wasm.build` and `env.wasm.relaxedSimd` select. */
export function tractFile(): string {
  if (__ONNXLET_THREADS__) return useRelaxedSimd() ? 'onnxlet_threads_relaxed_bg.wasm' : 'onnxlet_threads_bg.wasm';
  if (build() === 'full') return 'onnxlet_full_bg.wasm';
  return useRelaxedSimd() ? 'onnxlet_relaxed_bg.wasm' : 'onnxlet_bg.wasm';
}

const LITE_FILE = 'onnxlet_lite_bg.wasm';

/** Whether `env.wasm.wasmPaths` names one `.wasm` file rather than a directory. */
export function pathsNameOneFile(): boolean {
  const paths = env.wasm.wasmPaths;
  return paths !== undefined && String(paths).split(/[?#]/)[0].endsWith('.wasm');
}

/** `env.wasm.wasmPaths` made absolute (against the script, else the page), if it is set. */
export function configuredPaths(): URL | undefined {
  const configured = env.wasm.wasmPaths;
  if (configured === undefined) return undefined;
  const base = __ONNXLET_IIFE__ ? scriptSrc : import.meta.url;
  return new URL(String(configured), base ?? globalThis.location?.href);
}

/** Where the module `file` is fetched from: `env.wasm.wasmPaths` resolved, or the default beside the script. */
export function wasmUrl(file: string): URL {
  const configured = configuredPaths();
  if (configured !== undefined) return configured.pathname.endsWith('.wasm') ? configured : new URL(file, configured);
  if (__ONNXLET_IIFE__) {
    if (!scriptSrc) {
      throw new OnnxletError(
        'WASM_LOAD_FAILED',
        `cannot locate ${file}: the script was not loaded by a <script src> tag; set onnxlet.env.wasm.wasmPaths`,
      );
    }
    return new URL(file, scriptSrc);
  }
  if (typeof import.meta.url !== 'string') {
    throw new OnnxletError(
      'WASM_LOAD_FAILED',
      `cannot locate ${file}: import.meta.url is not set in this runtime (as in Cloudflare Workers); import ` +
        "onnxlet_lite_bg.wasm as a module and hand it over as env.wasm.wasmBinary = { lite } (see " +
        'docs/api.md#cloudflare-workers), or set env.wasm.wasmPaths to an absolute URL',
    );
  }
  // Literals for the modules a page may fetch without asking for the full build, which bundlers
  // then emit beside the bundle; the full one is not referenced statically, so that bundles do
  // not carry it unless asked to (see the README).
  if (file === LITE_FILE) return new URL('./onnxlet_lite_bg.wasm', import.meta.url);
  if (file === 'onnxlet_bg.wasm') return new URL('./onnxlet_bg.wasm', import.meta.url);
  if (file === 'onnxlet_relaxed_bg.wasm') return new URL('./onnxlet_relaxed_bg.wasm', import.meta.url);
  if (file === 'onnxlet_threads_bg.wasm') return new URL('./onnxlet_threads_bg.wasm', import.meta.url);
  if (file === 'onnxlet_threads_relaxed_bg.wasm') return new URL('./onnxlet_threads_relaxed_bg.wasm', import.meta.url);
  return new URL(file, import.meta.url);
}

/** Whether `value` is a module's code: bytes or a compiled module. */
function isCode(value: unknown): value is WasmCode {
  return value instanceof WebAssembly.Module || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

/**
 * `env.wasm.wasmBinary`, checked: `one`, a module that runs every model (on the tract module's
 * glue, which loads any module), or the modules given by engine.
 */
function givenCode(): { one: WasmCode } | { lite?: WasmCode; tract?: WasmCode } | undefined {
  const given: unknown = env.wasm.wasmBinary;
  if (given === undefined) return undefined;
  if (isCode(given)) return { one: given };
  const what = 'env.wasm.wasmBinary must be a module (bytes or a WebAssembly.Module) or { lite, tract } of them';
  if (typeof given !== 'object' || given === null) throw new OnnxletError('INVALID_ARGUMENT', `${what}, not ${String(given)}`);
  const byEngine = given as Record<string, unknown>;
  for (const [key, value] of Object.entries(byEngine)) {
    if (key !== 'lite' && key !== 'tract') {
      throw new OnnxletError('INVALID_ARGUMENT', `${what}: ${JSON.stringify(key)} is no engine (lite or tract)`);
    }
    if (value !== undefined && !isCode(value)) {
      throw new OnnxletError('INVALID_ARGUMENT', `${what}: its ${key} is ${Object.prototype.toString.call(value)}`);
    }
  }
  const { lite, tract } = byEngine as { lite?: WasmCode; tract?: WasmCode };
  if (lite === undefined && tract === undefined) throw new OnnxletError('INVALID_ARGUMENT', `${what}: it gives none`);
  return { lite, tract };
}

/** The engine whose module `env.wasm.wasmBinary` gives under that engine's name, to be checked. */
function expectedEngine(engine: EngineName): EngineName | undefined {
  const given = givenCode();
  return given !== undefined && !('one' in given) && given[engine] !== undefined ? engine : undefined;
}

/** The code of the module `file` of `engine`: from `env.wasm.wasmBinary`, a local file, or a fetch. */
async function wasmCode(engine: EngineName, file: () => string): Promise<ModuleCode> {
  const given = givenCode();
  if (given !== undefined) {
    const code = 'one' in given ? given.one : given[engine];
    if (code !== undefined) return code as BufferSource | WebAssembly.Module;
  }
  const url = wasmUrl(file());
  if (url.protocol === 'file:') return readLocalFile(url);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new OnnxletError('FETCH_FAILED', `could not fetch ${url.href}: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok) {
    throw new OnnxletError('FETCH_FAILED', `could not fetch ${url.href}: HTTP ${response.status} ${response.statusText}`);
  }
  return response;
}

/**
 * The lite module: onnxlet's own interpreter, small and quick to start, for the operators and
 * dtypes most models use.
 */
export const lite = new WasmModule(
  liteGlue,
  false,
  () => wasmCode('lite', () => LITE_FILE),
  () => expectedEngine('lite'),
);

/**
 * The tract module: the default one (`onnxlet_bg.wasm` or its relaxed-SIMD twin), the full one,
 * or in the multi-threaded worker the threads one. Its glue also loads any module given as
 * `env.wasm.wasmBinary`, since it imports what every module imports.
 */
export const tract = new WasmModule(
  tractGlue,
  __ONNXLET_THREADS__,
  () => wasmCode('tract', tractFile),
  () => expectedEngine('tract'),
);

/**
 * The modules a new session tries, in order: with `env.wasm.build` `'auto'` (the default) the
 * lite module, then, for a model it cannot run (`UNSUPPORTED_OPERATOR` at load), the tract
 * module, fetched then. One module when a build is forced, when `wasmBinary` or a `wasmPaths`
 * naming a `.wasm` file gives the module, and in the multi-threaded worker. With `wasmBinary`
 * giving modules by engine, only those given.
 */
export function sessionModules(): WasmModule[] {
  const chosen = build();
  if (__ONNXLET_THREADS__) return [tract];
  const given = givenCode();
  if (given !== undefined && 'one' in given) return [tract];
  if (given === undefined && pathsNameOneFile()) return [chosen === 'lite' ? lite : tract];
  const wanted = chosen === 'auto' ? [lite, tract] : [chosen === 'lite' ? lite : tract];
  if (given === undefined) return wanted;
  const modules = wanted.filter((m) => given[m === lite ? 'lite' : 'tract'] !== undefined);
  if (modules.length === 0) {
    throw new OnnxletError(
      'INVALID_ARGUMENT',
      `env.wasm.build is '${chosen}', whose module env.wasm.wasmBinary does not give (it gives ` +
        `${Object.keys(given).filter((k) => given[k as EngineName] !== undefined).join(' and ')})`,
    );
  }
  return modules;
}

/**
 * Advice for a model the lite engine refused when `env.wasm.build` is `'auto'` but
 * `env.wasm.wasmBinary` gives no tract module to fall back to (as in Cloudflare Workers), or
 * `undefined`.
 */
export function tractNotGiven(): string | undefined {
  if (__ONNXLET_THREADS__ || build() !== 'auto') return undefined;
  const given = givenCode();
  if (given === undefined || 'one' in given || given.tract !== undefined) return undefined;
  return (
    'env.wasm.wasmBinary gives no tract module, so the tract engine was not tried: import ' +
    "onnxlet/onnxlet_bg.wasm too and set env.wasm.wasmBinary = { lite, tract } (docs/api.md#cloudflare-workers)"
  );
}

/** The modules instantiated in this thread now. */
export function instantiatedModules(): WasmModule[] {
  return [lite, tract].filter((m) => m.instantiated);
}
