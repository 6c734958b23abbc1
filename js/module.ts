// The lifecycle of one WebAssembly module: instantiation, calls, and the reset after a crash.
// Which module file to load is js/module-config.ts's business; which modules a session may use, js/wasm.ts's.
import type * as Glue from '../pkg/onnxlet.js';

import type { EngineName } from './env.js';
import { OnnxletError, fromWasmError } from './errors.js';
import type { ModuleConfig } from './module-config.js';

/** One module's wasm-bindgen glue: every module has the same exports (scripts/build.mjs checks). */
export type ModuleGlue = typeof Glue;

/** A model's bytes in a module's memory. */
export type ModelBuffer = Glue.ModelBuffer;

/** A loaded model in a module. */
export type WasmSession = Glue.WasmSession;
export type WasmLoading = Glue.WasmLoading;


/** A module's code: bytes, a compiled module, or a fetched response. */
export type ModuleCode = BufferSource | WebAssembly.Module | Response;

/**
 * Set by the multi-threaded worker (js/threads-worker.ts): starts the thread pool `pool` on the
 * instantiated module and its shared memory.
 */
export const threadPool: {
  start?: (module: WebAssembly.Module, memory: WebAssembly.Memory, pool: ModuleConfig['pool']) => Promise<void>;
} = {};

/**
 * One WebAssembly module of this thread, on its own copy of the glue (so that two engines can be
 * instantiated side by side). Calls into it go through {@link WasmModule.call}, where a Rust
 * error becomes an {@link OnnxletError} and a trap resets the module.
 */
export class WasmModule {
  #ready: Promise<void> | undefined;
  #generation = 0;
  #instantiated = false;
  #dead = false;
  /** Set once the glue holds another engine's module than expected, which it cannot drop. */
  #wrongEngine: OnnxletError | undefined;

  /**
   * @param glue the module's wasm-bindgen glue
   * @param threaded whether this is the multi-threaded module, whose pool shares its memory
   * @param code fetches or reads the module's code for a configuration when it is first needed
   * @param expected the engine the code must hold, when the user gave it under that engine's name
   */
  constructor(
    readonly glue: ModuleGlue,
    private readonly threaded: boolean,
    private readonly code: (config: ModuleConfig) => Promise<ModuleCode>,
    private readonly expected: (config: ModuleConfig) => EngineName | undefined,
  ) {}

  /** Whether the module is instantiated and usable now (no initialisation or reset under way). */
  get instantiated(): boolean {
    return this.#instantiated;
  }

  /** Whether the module crashed for good (the multi-threaded one; the others are reset). */
  get dead(): boolean {
    return this.#dead;
  }

  /** Increments whenever the module is re-instantiated after a crash; sessions remember theirs. */
  get generation(): number {
    return this.#generation;
  }

  /** The engine in the module; instantiate it first. */
  get engine(): EngineName {
    return this.glue.engineName() as EngineName;
  }

  /**
   * Fetches and instantiates the module `config` names, once; concurrent callers share the same
   * promise (and the first caller's configuration). After a crash, resolves once the module has
   * been re-instantiated.
   */
  initialize(config: ModuleConfig): Promise<void> {
    if (this.#wrongEngine !== undefined) return Promise.reject(this.#wrongEngine);
    this.#ready ??= this.#instantiate(config).then(() => this.#check(config)).then(
      () => {
        this.#instantiated = true;
      },
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }

  /**
   * Calls into the module. A Rust error becomes an {@link OnnxletError} here; a trap (a
   * `WebAssembly.RuntimeError`, e.g. a panic or out-of-memory) re-instantiates the module, so
   * that the next call (which awaits {@link initialize}) works.
   */
  call<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError && this.threaded) {
        this.#dead = true;
        this.#generation++;
        this.#instantiated = false;
        this.#ready = Promise.reject(new OnnxletError('RELEASED', 'the multi-threaded module crashed'));
        this.#ready.catch(() => {});
        throw new OnnxletError(
          'RUNTIME_ERROR',
          `the WebAssembly module crashed while ${what} (${error.message}); the session's worker has stopped and ` +
            'the session is released (a panic message, if any, is on the console)',
          { cause: error },
        );
      }
      if (error instanceof WebAssembly.RuntimeError) {
        this.#generation++;
        this.#instantiated = false;
        this.#ready = this.glue.__wbg_reset_state_async().then(() => {
          this.#instantiated = true;
        }).catch((cause: unknown) => {
          this.#ready = undefined;
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

  /** Fails when the module instantiated holds another engine than the one it was given as. */
  #check(config: ModuleConfig): void {
    const expected = this.expected(config);
    const engine = this.engine;
    if (expected === undefined || engine === expected) return;
    this.#wrongEngine = wrongEngine(
      expected,
      `it holds the ${engine} engine; the module is instantiated now, so this lasts until the program restarts`,
    );
    throw this.#wrongEngine;
  }

  async #instantiate(config: ModuleConfig): Promise<void> {
    const code = await this.code(config);
    const { default: init, initSync } = this.glue;
    try {
      if (this.threaded) {
        // Compiled here, so that the pool's workers instantiate the same module on the same memory.
        const module = await compile(code);
        const exports = await init({ module_or_path: module });
        await threadPool.start?.(module, exports.memory, config.pool);
        return;
      }
      if (typeof document === 'undefined' && !isResponse(code)) {
        // Outside a page (Node, Deno, Bun, workers), from bytes or a module: compiled off the main
        // thread, instantiated at once. wasm-bindgen's asynchronous init reads the globals `Request`
        // and `Response`, which Node defines lazily: the first read loads its fetch implementation
        // (undici), some 25 ms of a cold start, for a module already in memory.
        initSync({ module: await compile(code) });
        return;
      }
      await init({ module_or_path: code });
    } catch (error) {
      if (error instanceof OnnxletError) throw error;
      const expected = this.expected(config);
      // The other engine's module imports what this engine's glue does not give.
      if (expected !== undefined && error instanceof WebAssembly.LinkError) throw wrongEngine(expected, error.message);
      const hint = !(error instanceof WebAssembly.CompileError)
        ? ''
        : /code generation disallowed/i.test((error as Error).message)
          ? ' (this runtime compiles no WebAssembly from bytes, as in Cloudflare Workers: import onnxlet_lite_bg.wasm ' +
            "as a module and hand the WebAssembly.Module over as env.wasm.wasmBinary = { lite }; see " +
            'docs/api.md#cloudflare-workers)'
          : config.relaxedSimd === true
          ? ' (env.wasm.relaxedSimd is true, and this engine may not have relaxed SIMD: leave it unset to choose by WebAssembly.validate)'
          : ' (onnxlet needs WebAssembly SIMD: Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+)';
      throw new OnnxletError(
        'WASM_LOAD_FAILED',
        `could not instantiate the onnxlet WebAssembly module: ${(error as Error).message}${hint}`,
        { cause: error },
      );
    }
  }
}

/** The error for a module given as `env.wasm.wasmBinary[expected]` that is not that engine's. */
function wrongEngine(expected: EngineName, why: string): OnnxletError {
  return new OnnxletError(
    'INVALID_ARGUMENT',
    `env.wasm.wasmBinary.${expected} is not the ${expected} engine's module (${why}): give onnxlet_lite_bg.wasm ` +
      'as lite and onnxlet_bg.wasm (or another tract module) as tract',
  );
}

/** Whether `code` is a `Response`, without reading the global `Response` for bytes or a module. */
function isResponse(code: ModuleCode): code is Response {
  if (code instanceof WebAssembly.Module || code instanceof ArrayBuffer || ArrayBuffer.isView(code)) return false;
  return typeof Response !== 'undefined' && code instanceof Response;
}

/** The module of `code`: as it is, compiled from a `Response` (see {@link compileResponse}) or from bytes. */
async function compile(code: ModuleCode): Promise<WebAssembly.Module> {
  if (code instanceof WebAssembly.Module) return code;
  return isResponse(code) ? compileResponse(code) : WebAssembly.compile(code);
}

/** Compiles a fetched module, streaming where the server labels it `application/wasm`. */
async function compileResponse(response: Response): Promise<WebAssembly.Module> {
  if (response.headers.get('content-type')?.split(';')[0].trim() === 'application/wasm') {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}
