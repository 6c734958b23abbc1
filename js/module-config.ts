// Which module files this thread loads, and from where: `env.wasm` resolved once into a
// ModuleConfig, which is passed explicitly to the backend, the worker and the module loader.
// Loading the files and the modules' lifecycle are js/wasm.ts's and js/module.ts's.
import { type EngineName, type Env, type WasmCode, env } from './env.js';
import { OnnxletError } from './errors.js';
import { SCRIPT_TAG, THREADS_BUNDLE } from './flags.js';

/** The values `env.wasm.build` takes; `'default'` is the old name of `'tract'`. */
const BUILDS = ['auto', 'lite', 'tract', 'full', 'default'] as const;

/** The modules `env.wasm.wasmBinary` gives: `one` that runs every model, or modules by engine. */
export type GivenCode = { one: WasmCode } | { lite?: WasmCode; tract?: WasmCode };

/** `env.wasm` as the page (or the worker's page) resolved it when a session was created. */
export interface ModuleConfig {
  /** `env.wasm.build`, checked; unset is `'auto'`. */
  readonly build: (typeof BUILDS)[number];
  /** `env.wasm.wasmPaths` as set (made absolute by {@link configuredPaths}). */
  readonly wasmPaths: string | URL | undefined;
  /** `env.wasm.relaxedSimd` as set; unset, {@link tractFile} and {@link liteFile} probe the engine. */
  readonly relaxedSimd: boolean | undefined;
  /** `env.wasm.wasmBinary`, checked. */
  readonly given: GivenCode | undefined;
  /** `env.wasm.numThreads` as set (checked by `sessionThreads`). */
  readonly numThreads: unknown;
  /** In the multi-threaded worker: the size of its pool, and where a crashed pool thread is told. */
  readonly pool?: { readonly count: number; readonly crashChannel: string };
}

/** The `src` of the `<script>` tag that loaded the script-tag build, read while it executes. */
export const scriptSrc: string | undefined =
  SCRIPT_TAG && typeof document !== 'undefined'
    ? ((document.currentScript as HTMLScriptElement | null)?.src ?? undefined)
    : undefined;

/** `wasm` (the global `env.wasm` unless given) checked and resolved. */
export function resolveConfig(wasm: Env['wasm'] = env.wasm): ModuleConfig {
  const build = wasm.build ?? 'auto';
  if (!(BUILDS as readonly unknown[]).includes(build)) {
    throw new OnnxletError(
      'INVALID_ARGUMENT',
      `env.wasm.build must be 'auto', 'lite', 'tract' or 'full', not ${JSON.stringify(build)}`,
    );
  }
  return {
    build,
    wasmPaths: wasm.wasmPaths,
    relaxedSimd: wasm.relaxedSimd,
    given: givenCode(wasm.wasmBinary),
    numThreads: wasm.numThreads,
  };
}

/** A module of one function using one relaxed-SIMD instruction (`i8x16.relaxed_swizzle`). */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15,
  253, 128, 2, 11,
]);

/** `relaxedSimd`, or, when unset, whether the engine validates relaxed SIMD. */
function useRelaxedSimd({ relaxedSimd }: ModuleConfig): boolean {
  if (relaxedSimd !== undefined) return relaxedSimd;
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The file of the tract module `build` and `relaxedSimd` select. */
export function tractFile(config: ModuleConfig): string {
  if (THREADS_BUNDLE) return useRelaxedSimd(config) ? 'onnxlet_threads_relaxed_bg.wasm' : 'onnxlet_threads_bg.wasm';
  if (config.build === 'full') return 'onnxlet_full_bg.wasm';
  return useRelaxedSimd(config) ? 'onnxlet_relaxed_bg.wasm' : 'onnxlet_bg.wasm';
}

/** The file of the lite module `relaxedSimd` selects (in the multi-threaded worker, the threads one). */
export function liteFile(config: ModuleConfig): string {
  if (THREADS_BUNDLE) return useRelaxedSimd(config) ? 'onnxlet_lite_threads_relaxed_bg.wasm' : 'onnxlet_lite_threads_bg.wasm';
  return useRelaxedSimd(config) ? 'onnxlet_lite_relaxed_bg.wasm' : 'onnxlet_lite_bg.wasm';
}

/** Whether `wasmPaths` names one `.wasm` file rather than a directory. */
export function pathsNameOneFile({ wasmPaths }: ModuleConfig): boolean {
  return wasmPaths !== undefined && String(wasmPaths).split(/[?#]/)[0].endsWith('.wasm');
}

/** `wasmPaths` made absolute (against the script, else the page), if it is set. */
export function configuredPaths({ wasmPaths }: ModuleConfig): URL | undefined {
  if (wasmPaths === undefined) return undefined;
  const base = SCRIPT_TAG ? scriptSrc : import.meta.url;
  return new URL(String(wasmPaths), base ?? globalThis.location?.href);
}

/** Where the module `file` is fetched from: `wasmPaths` resolved, or the default beside the script. */
export function wasmUrl(config: ModuleConfig, file: string): URL {
  const configured = configuredPaths(config);
  if (configured !== undefined) return configured.pathname.endsWith('.wasm') ? configured : new URL(file, configured);
  if (SCRIPT_TAG) {
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
  if (file === 'onnxlet_lite_bg.wasm') return new URL('./onnxlet_lite_bg.wasm', import.meta.url);
  if (file === 'onnxlet_lite_relaxed_bg.wasm') return new URL('./onnxlet_lite_relaxed_bg.wasm', import.meta.url);
  if (file === 'onnxlet_bg.wasm') return new URL('./onnxlet_bg.wasm', import.meta.url);
  if (file === 'onnxlet_relaxed_bg.wasm') return new URL('./onnxlet_relaxed_bg.wasm', import.meta.url);
  if (file === 'onnxlet_threads_bg.wasm') return new URL('./onnxlet_threads_bg.wasm', import.meta.url);
  if (file === 'onnxlet_threads_relaxed_bg.wasm') return new URL('./onnxlet_threads_relaxed_bg.wasm', import.meta.url);
  if (file === 'onnxlet_lite_threads_bg.wasm') return new URL('./onnxlet_lite_threads_bg.wasm', import.meta.url);
  if (file === 'onnxlet_lite_threads_relaxed_bg.wasm') {
    return new URL('./onnxlet_lite_threads_relaxed_bg.wasm', import.meta.url);
  }
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
function givenCode(given: unknown): GivenCode | undefined {
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

/** The engine whose module `wasmBinary` gives under that engine's name, to be checked. */
export function expectedEngine({ given }: ModuleConfig, engine: EngineName): EngineName | undefined {
  return given !== undefined && !('one' in given) && given[engine] !== undefined ? engine : undefined;
}

/** What of a {@link ModuleConfig} the page sends its worker (which is given no `wasmBinary`). */
export interface SentConfig {
  readonly build: ModuleConfig['build'];
  /** `wasmPaths` made absolute here, against this script, so that the worker loads the same files. */
  readonly wasmPaths: string | undefined;
  readonly relaxedSimd: boolean | undefined;
  readonly pool?: ModuleConfig['pool'];
}

/** `config` as the page sends it to a worker, with the worker's `pool` if it is the multi-threaded one. */
export function sentConfig(config: ModuleConfig, pool: ModuleConfig['pool']): SentConfig {
  const { build, relaxedSimd } = config;
  return { build, wasmPaths: configuredPaths(config)?.href, relaxedSimd, pool };
}

/** The configuration a worker runs its session on, as its page sent it. */
export function receivedConfig(sent: SentConfig): ModuleConfig {
  return { ...sent, given: undefined, numThreads: sent.pool?.count };
}
