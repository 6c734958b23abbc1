import init, {
  ModelBuffer,
  WasmSession,
  __wbg_reset_state_async,
  initSync,
  memoryUsage,
  supportedOperators,
} from '../pkg/onnxlet.js';

import { env } from './env.js';
import { OnnxletError, fromWasmError } from './errors.js';
import { readLocalFile } from './local-file.js';

declare const __ONNXLET_IIFE__: boolean;
/** True in the multi-threaded worker's bundle, whose glue is the threads build's. */
declare const __ONNXLET_THREADS__: boolean;

export { ModelBuffer, WasmSession, memoryUsage, supportedOperators };

/** The `src` of the `<script>` tag that loaded the script-tag build, read while it executes. */
export const scriptSrc: string | undefined =
  __ONNXLET_IIFE__ && typeof document !== 'undefined'
    ? ((document.currentScript as HTMLScriptElement | null)?.src ?? undefined)
    : undefined;

/**
 * Set by the multi-threaded worker (js/threads-worker.ts): starts the thread pool on the
 * instantiated module and its shared memory.
 */
export const threadPool: {
  start?: (module: WebAssembly.Module, memory: WebAssembly.Memory) => Promise<void>;
  /** The `BroadcastChannel` on which the page hears of a crashed pool thread. */
  crashChannel?: string;
} = {};

/** Whether the multi-threaded module crashed: it cannot be reset (its threads share the memory). */
let dead = false;

/** Whether the module crashed for good (the multi-threaded one; the others are reset). */
export function isDead(): boolean {
  return dead;
}

let ready: Promise<void> | undefined;
let generation = 0;
let instantiated = false;

/** Whether the module is instantiated and usable now (no initialisation or reset under way). */
export function isInstantiated(): boolean {
  return instantiated;
}

/**
 * Fetches and instantiates the module once; concurrent callers share the same promise. After a
 * crash, resolves once the module has been re-instantiated.
 */
export function initialize(): Promise<void> {
  ready ??= instantiate().then(() => {
    instantiated = true;
  }, (error: unknown) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

/** Increments whenever the module is re-instantiated after a crash; sessions remember theirs. */
export function moduleGeneration(): number {
  return generation;
}

/**
 * Calls into the module. A Rust error becomes an {@link OnnxletError} here; a trap (a
 * `WebAssembly.RuntimeError`, e.g. a panic or out-of-memory) re-instantiates the module, so
 * that the next call (which awaits {@link initialize}) works.
 */
export function callWasm<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError && __ONNXLET_THREADS__) {
      dead = true;
      generation++;
      instantiated = false;
      ready = Promise.reject(new OnnxletError('RELEASED', 'the multi-threaded module crashed'));
      ready.catch(() => {});
      throw new OnnxletError(
        'RUNTIME_ERROR',
        `the WebAssembly module crashed while ${what} (${error.message}); the session's worker has stopped and ` +
          'the session is released (a panic message, if any, is on the console)',
        { cause: error },
      );
    }
    if (error instanceof WebAssembly.RuntimeError) {
      generation++;
      instantiated = false;
      ready = __wbg_reset_state_async().then(() => {
        instantiated = true;
      }).catch((cause: unknown) => {
        ready = undefined;
        throw new OnnxletError('WASM_LOAD_FAILED', `could not re-instantiate the module after a crash: ${cause}`, {
          cause,
        });
      });
      throw new OnnxletError(
        'RUNTIME_ERROR',
        `the WebAssembly module crashed while ${what} (${error.message}); it has been reset and ` +
          'sessions created before the crash are released (a panic message, if any, is on the console)',
        { cause: error },
      );
    }
    throw fromWasmError(error);
  }
}

async function instantiate(): Promise<void> {
  const source = await wasmSource();
  try {
    if (__ONNXLET_THREADS__) {
      // Compiled here, so that the pool's workers instantiate the same module on the same memory.
      const module = await compileSource(source);
      const exports = await init({ module_or_path: module });
      await threadPool.start?.(module, exports.memory);
      return;
    }
    if (typeof document === 'undefined' && !isResponse(source)) {
      // Outside a page (Node, Deno, Bun, workers), from bytes or a module: compiled off the main
      // thread, instantiated at once. wasm-bindgen's asynchronous init reads the globals `Request`
      // and `Response`, which Node defines lazily: the first read loads its fetch implementation
      // (undici), some 25 ms of a cold start, for a module already in memory.
      initSync({ module: await compileSource(source) });
      return;
    }
    await init({ module_or_path: source });
  } catch (error) {
    if (error instanceof OnnxletError) throw error;
    const hint = !(error instanceof WebAssembly.CompileError)
      ? ''
      : env.wasm.relaxedSimd === true
        ? ' (env.wasm.relaxedSimd is true, and this engine may not have relaxed SIMD: leave it unset to choose by WebAssembly.validate)'
        : ' (onnxlet needs WebAssembly SIMD: Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+)';
    throw new OnnxletError(
      'WASM_LOAD_FAILED',
      `could not instantiate the onnxlet WebAssembly module: ${(error as Error).message}${hint}`,
      { cause: error },
    );
  }
}

/** Whether `source` is a `Response`, without reading the global `Response` for bytes or a module. */
function isResponse(source: BufferSource | WebAssembly.Module | Response): source is Response {
  if (source instanceof WebAssembly.Module || source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return false;
  return typeof Response !== 'undefined' && source instanceof Response;
}

/** The module of `source`: as it is, compiled from a `Response` (see {@link compileResponse}) or from bytes. */
async function compileSource(source: BufferSource | WebAssembly.Module | Response): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  return isResponse(source) ? compileResponse(source) : WebAssembly.compile(source);
}

/** Compiles a fetched module, streaming where the server labels it `application/wasm`. */
async function compileResponse(response: Response): Promise<WebAssembly.Module> {
  if (response.headers.get('content-type')?.split(';')[0].trim() === 'application/wasm') {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
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

/** The file name of the module `env.wasm.build` and `env.wasm.relaxedSimd` select. */
export function wasmFile(): string {
  const { build } = env.wasm;
  if (__ONNXLET_THREADS__) return useRelaxedSimd() ? 'onnxlet_threads_relaxed_bg.wasm' : 'onnxlet_threads_bg.wasm';
  if (build === undefined || build === 'default') return useRelaxedSimd() ? 'onnxlet_relaxed_bg.wasm' : 'onnxlet_bg.wasm';
  if (build === 'full') return 'onnxlet_full_bg.wasm';
  if (build === 'lite') return 'onnxlet_lite_bg.wasm';
  throw new OnnxletError(
    'INVALID_ARGUMENT',
    `env.wasm.build must be 'default', 'full' or 'lite', not ${JSON.stringify(build)}`,
  );
}

/** Where the module is fetched from: `env.wasm.wasmPaths` resolved, or the default beside the script. */
export function wasmUrl(): URL {
  const configured = env.wasm.wasmPaths;
  const file = wasmFile();
  if (configured !== undefined) {
    const base = __ONNXLET_IIFE__ ? scriptSrc : import.meta.url;
    const url = new URL(String(configured), base ?? globalThis.location?.href);
    return url.pathname.endsWith('.wasm') ? url : new URL(file, url);
  }
  if (__ONNXLET_IIFE__) {
    if (!scriptSrc) {
      throw new OnnxletError(
        'WASM_LOAD_FAILED',
        `cannot locate ${file}: the script was not loaded by a <script src> tag; set onnxlet.env.wasm.wasmPaths`,
      );
    }
    return new URL(file, scriptSrc);
  }
  // Literals for the default build's two modules, which bundlers then emit beside the bundle; the
  // full one is not referenced statically, so that bundles do not carry it unless asked to (see
  // the README).
  if (file === 'onnxlet_bg.wasm') return new URL('./onnxlet_bg.wasm', import.meta.url);
  if (file === 'onnxlet_relaxed_bg.wasm') return new URL('./onnxlet_relaxed_bg.wasm', import.meta.url);
  if (file === 'onnxlet_threads_bg.wasm') return new URL('./onnxlet_threads_bg.wasm', import.meta.url);
  if (file === 'onnxlet_threads_relaxed_bg.wasm') return new URL('./onnxlet_threads_relaxed_bg.wasm', import.meta.url);
  return new URL(file, import.meta.url);
}

async function wasmSource(): Promise<BufferSource | WebAssembly.Module | Response> {
  const { wasmBinary } = env.wasm;
  if (wasmBinary !== undefined) return wasmBinary as BufferSource | WebAssembly.Module;
  const url = wasmUrl();
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
