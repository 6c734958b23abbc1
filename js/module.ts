// The lifecycle of a WebAssembly module: compiled once, one instance per session, a crash ending one instance.
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
 * instantiated module of `engine` and its shared memory.
 */
export const threadPool: {
  start?: (
    engine: EngineName,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    pool: ModuleConfig['pool'],
  ) => Promise<void>;
} = {};

/** Makes a fresh copy of a module's glue: each copy holds one instance (scripts/build.mjs). */
export type GlueFactory = () => ModuleGlue;

/**
 * One engine's WebAssembly module in this thread (the lite or the tract one): its code, compiled
 * once, and its instances. Every session gets an instance of its own, on its own copy of the glue
 * and its own memory, so that a crash (a trap) loses only the session whose call trapped, and
 * releasing a session gives its memory back. The multi-threaded module, whose thread pool shares
 * one memory, has one instance.
 */
export class ModuleKind {
  #compiled: Promise<WebAssembly.Module> | undefined;
  /** Set once the code turned out to hold another engine than the one it was given as. */
  #wrongEngine: OnnxletError | undefined;
  #shared: WasmModule | undefined;
  /** The instances that may be alive, weakly: a session dropped without release is collected. */
  readonly #instances = new Set<WeakRef<WasmModule>>();

  /**
   * @param name the engine this module is for
   * @param glue makes a copy of the module's wasm-bindgen glue (always the same one when threaded)
   * @param threaded whether this is the multi-threaded module, whose pool shares its memory
   * @param code fetches or reads the module's code for a configuration when it is first needed
   * @param expected the engine the code must hold, when the user gave it under that engine's name
   */
  constructor(
    readonly name: EngineName,
    private readonly glue: GlueFactory,
    readonly threaded: boolean,
    private readonly code: (config: ModuleConfig) => Promise<ModuleCode>,
    readonly expected: (config: ModuleConfig) => EngineName | undefined,
  ) {}

  /** A new instance for one session (the one instance when threaded); instantiate it first. */
  instance(): WasmModule {
    if (this.threaded) return this.shared();
    const instance = new WasmModule(this, this.glue());
    this.#instances.add(new WeakRef(instance));
    return instance;
  }

  /** The instance shared by calls that belong to no session (e.g. listing operators). */
  shared(): WasmModule {
    if (this.#shared === undefined || (this.#shared.dead && !this.threaded)) {
      this.#shared = new WasmModule(this, this.glue());
      this.#instances.add(new WeakRef(this.#shared));
    }
    return this.#shared;
  }

  /** The instances instantiated and usable now. */
  instantiated(): WasmModule[] {
    const alive: WasmModule[] = [];
    for (const ref of this.#instances) {
      const instance = ref.deref();
      if (instance === undefined || instance.disposed) this.#instances.delete(ref);
      else if (instance.instantiated) alive.push(instance);
    }
    return alive;
  }

  /** Whether the multi-threaded module crashed (it is then dead for good). */
  get dead(): boolean {
    return this.threaded && this.#shared?.dead === true;
  }

  /**
   * The compiled module `config` names, fetched and compiled once; concurrent callers share the
   * same promise (and the first caller's configuration).
   */
  compiled(config: ModuleConfig): Promise<WebAssembly.Module> {
    if (this.#wrongEngine !== undefined) return Promise.reject(this.#wrongEngine);
    this.#compiled ??= this.code(config)
      .then(compile)
      .catch((error: unknown) => {
        this.#compiled = undefined;
        throw loadFailure(error, config, this.expected(config));
      });
    return this.#compiled;
  }

  /** Remembers that the code holds another engine than expected, which lasts. */
  refuse(error: OnnxletError): OnnxletError {
    this.#wrongEngine = error;
    return error;
  }
}

/**
 * One instance of a module, on its own copy of the glue. Calls into it go through
 * {@link WasmModule.call}, where a Rust error becomes an {@link OnnxletError}; a trap ends the
 * instance (every later use of it fails), and nothing else.
 */
export class WasmModule {
  #ready: Promise<void> | undefined;
  /** The multi-threaded module's pool: what starts it, then its start. */
  #pool: (() => Promise<void>) | Promise<void> | undefined;
  #generation = 0;
  #instantiated = false;
  #dead = false;
  #disposed = false;

  constructor(
    readonly kind: ModuleKind,
    readonly glue: ModuleGlue,
  ) {}

  /** Whether the instance is instantiated and usable now. */
  get instantiated(): boolean {
    return this.#instantiated;
  }

  /** Whether the instance crashed: it is unusable for good. */
  get dead(): boolean {
    return this.#dead;
  }

  /** Whether its session is done with it (released, or never created). */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Increments when the instance crashes; what lives in it remembers the generation it was made in. */
  get generation(): number {
    return this.#generation;
  }

  /** The engine in the module; instantiate it first. */
  get engine(): EngineName {
    return this.glue.engineName() as EngineName;
  }

  /**
   * Instantiates the instance (compiling the module `config` names first, once for all
   * instances); concurrent callers share the same promise.
   */
  initialize(config: ModuleConfig): Promise<void> {
    this.#ready ??= this.kind
      .compiled(config)
      .then((module) => this.#instantiate(module, config))
      .then(
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
   * Starts the thread pool of the multi-threaded module, once, when a model has loaded on it: a
   * module that refuses the model (the lite one, for a model that goes to tract) starts no
   * workers. Nothing to do for the others.
   */
  threads(): Promise<void> {
    if (typeof this.#pool === 'function') {
      const start = this.#pool;
      this.#pool = start().catch((error: unknown) => {
        this.#pool = start;
        throw error;
      });
    }
    return this.#pool ?? Promise.resolve();
  }

  /** Its session is done with it: it leaves the memory accounts, and the collector takes it. */
  dispose(): void {
    if (this.kind.threaded) return;
    this.#disposed = true;
    this.#instantiated = false;
  }

  /**
   * Calls into the instance. A Rust error becomes an {@link OnnxletError} here; a trap (a panic,
   * out of memory, the stack exhausted: see {@link isTrap}) ends the instance: the call fails
   * with `RUNTIME_ERROR`, and whatever lives in the instance (one session) is lost, but no other.
   */
  call<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (error) {
      if (!isTrap(error)) throw fromWasmError(error);
      this.#dead = true;
      this.#generation++;
      this.#instantiated = false;
      this.#ready = Promise.reject(new OnnxletError('RELEASED', `the WebAssembly instance crashed while ${what}`));
      this.#ready.catch(() => {});
      const lost = this.kind.threaded
        ? "the session's worker has stopped and the session is released"
        : 'this session is lost, and other sessions are not affected';
      throw new OnnxletError(
        'RUNTIME_ERROR',
        `the WebAssembly module crashed while ${what} (${(error as Error).message}); ${lost} (a panic message, if any, is on the console)`,
        { cause: error },
      );
    }
  }

  async #instantiate(module: WebAssembly.Module, config: ModuleConfig): Promise<void> {
    const { default: init, initSync } = this.glue;
    try {
      if (this.kind.threaded) {
        // The pool's workers instantiate the same module on the same memory, once the module
        // has a model to run (see threads()).
        const exports = await init({ module_or_path: module });
        this.#pool = () => threadPool.start?.(this.kind.name, module, exports.memory, config.pool) ?? Promise.resolve();
      } else if (typeof document === 'undefined') {
        // Outside a page (Node, Deno, Bun, workers) at once. wasm-bindgen's asynchronous init
        // reads the globals `Request` and `Response`, which Node defines lazily: the first read
        // loads its fetch implementation (undici), some 25 ms of a cold start.
        initSync({ module });
      } else {
        await init({ module_or_path: module });
      }
    } catch (error) {
      throw loadFailure(error, config, this.kind.expected(config));
    }
    this.#check(config);
  }

  /** Fails when the instance holds another engine than the one its code was given as. */
  #check(config: ModuleConfig): void {
    const expected = this.kind.expected(config);
    const engine = this.engine;
    if (expected === undefined || engine === expected) return;
    throw this.kind.refuse(
      wrongEngine(
        expected,
        `it holds the ${engine} engine; the module is compiled now, so this lasts until the program restarts`,
      ),
    );
  }
}

/**
 * Whether `error`, thrown by a call into an instance, left it in an unknown state: a trap (a
 * panic, out of memory), or the stack exhausted part-way through Rust code (a `RangeError` in
 * V8 and JavaScriptCore, an `InternalError` in SpiderMonkey).
 */
function isTrap(error: unknown): boolean {
  if (error instanceof WebAssembly.RuntimeError) return true;
  if (!(error instanceof Error)) return false;
  return (
    (error instanceof RangeError && /call stack/i.test(error.message)) ||
    (error.name === 'InternalError' && /recursion/i.test(error.message))
  );
}

/** The {@link OnnxletError} for a module that did not compile or instantiate. */
function loadFailure(error: unknown, config: ModuleConfig, expected: EngineName | undefined): OnnxletError {
  if (error instanceof OnnxletError) return error;
  // The other engine's module imports what this engine's glue does not give.
  if (expected !== undefined && error instanceof WebAssembly.LinkError) return wrongEngine(expected, error.message);
  const hint = !(error instanceof WebAssembly.CompileError)
    ? ''
    : /code generation disallowed/i.test((error as Error).message)
      ? ' (this runtime compiles no WebAssembly from bytes, as in Cloudflare Workers: import onnxlet_lite_bg.wasm ' +
        "as a module and hand the WebAssembly.Module over as env.wasm.wasmBinary = { lite }; see " +
        'docs/api.md#cloudflare-workers)'
      : config.relaxedSimd === true
        ? ' (env.wasm.relaxedSimd is true, and this engine may not have relaxed SIMD: leave it unset to choose by WebAssembly.validate)'
        : ' (onnxlet needs WebAssembly SIMD: Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+)';
  return new OnnxletError(
    'WASM_LOAD_FAILED',
    `could not instantiate the onnxlet WebAssembly module: ${(error as Error).message}${hint}`,
    { cause: error },
  );
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
