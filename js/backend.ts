import { cacheKey, cacheModel, cachedModel, uncacheModel } from './cache.js';
import { OnnxletError } from './errors.js';
import type { CreateOptions } from './create-options.js';
import { type Integrity, type ModelSource, type ReadOptions, abortError, integrityMismatch, nextTask, parseIntegrity, readModel } from './source.js';
import type { EngineName } from './env.js';
import type { ModuleConfig } from './module-config.js';
import type { ModelBuffer, WasmLoading, WasmModule, WasmSession } from './module.js';
import type { WireMetadata, WireTensorType, WireValue } from '../pkg/onnxlet.js';
import type { TensorType } from './tensor.js';
import { sessionModules, tractNotGiven } from './wasm.js';

// The wire types are declared in Rust (src/wire.rs) and emitted into the glue's .d.ts.
export type { WireMetadata, WireValue } from '../pkg/onnxlet.js';

/** `true` when `A` and `B` are the same type. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// tsc fails here when the tensor types Rust reads and writes differ from the public TensorType.
void (true satisfies Same<WireTensorType, TensorType>);

/** Where a session runs: in this thread's module, or in a worker's. */
export interface Backend {
  /** The engine the model runs on. */
  readonly engine: EngineName;
  readonly inputs: readonly WireMetadata[];
  readonly outputs: readonly WireMetadata[];
  run(feeds: WireValue[], fetches: string[] | undefined): Promise<WireValue[]>;
  release(): Promise<void>;
  /** Traps the session's instance on purpose, for the tests of what a crash does. */
  crash(): Promise<void>;
}

/**
 * The model in a buffer of the module's memory: from the cache when `key` is given and holds a
 * copy that passes `integrity`, otherwise read from the source and checked; and whether it came
 * from the cache.
 */
async function loadModel(
  source: ModelSource,
  key: string | undefined,
  integrity: Integrity | undefined,
  options: ReadOptions,
): Promise<[ModelBuffer, boolean]> {
  const cached = key === undefined ? undefined : await cachedModel(key, options);
  if (cached !== undefined) {
    if (integrity === undefined || integrityMismatch(cached, integrity) === undefined) return [cached, true];
    cached.free();
  }
  const buffer = await readModel(source, options);
  const mismatch = integrity && integrityMismatch(buffer, integrity);
  if (integrity && mismatch !== undefined) {
    buffer.free();
    throw new OnnxletError(
      'INTEGRITY_MISMATCH',
      `the model's bytes do not match its integrity value: expected ${integrity.value}, got ${mismatch}`,
    );
  }
  return [buffer, false];
}

/**
 * Hands a model that `from` cannot run (`why`) to `to`: a copy of its bytes in `to`'s memory,
 * which instantiates `to` first. The caller still frees `held`; `to` is disposed of on failure.
 */
async function handOver(
  held: HeldBuffer,
  from: WasmModule,
  to: WasmModule,
  config: ModuleConfig,
  why: OnnxletError,
): Promise<ModelBuffer> {
  try {
    await to.initialize(config);
  } catch (error) {
    to.dispose();
    const { code, message } = error instanceof OnnxletError ? error : new OnnxletError('WASM_LOAD_FAILED', String(error));
    throw new OnnxletError(code, `${why.message}; and the tract module, which could run it, failed to load: ${message}`, {
      cause: error,
    });
  }
  // The lite engine frees the bytes once its checks pass: what only building finds unsupported
  // cannot be handed over (its message says how to choose the tract engine).
  if (from.generation !== held.generation || held.bytes.length === 0) {
    to.dispose();
    throw why;
  }
  const { bytes } = held;
  try {
    const copy = to.call('receiving the model', () => new to.glue.ModelBuffer(bytes.length, []));
    // A view of `from`'s memory, copied straight into `to`'s: no copy in the JS heap.
    to.call('receiving the model', () => copy.append(bytes.view()));
    return copy;
  } catch (error) {
    // The instance and what it holds go together.
    to.dispose();
    throw error;
  }
}

/** How long the module works on a load before returning to the event loop (an abort, a frame). */
const LOAD_SLICE_MS = 16;

/**
 * The model in `held` loaded on `module`, or the error why not. The module loads it a slice at a
 * time ({@link LOAD_SLICE_MS}), returning to the event loop in between: the page stays
 * responsive, `signal` aborts within a slice, and `onProgress` hears how far the build is.
 */
async function tryLoad(
  module: WasmModule,
  held: HeldBuffer,
  overrides: [string, number][],
  options: Pick<CreateOptions, 'maxMemoryBytes' | 'signal' | 'onProgress'>,
): Promise<WasmSession | OnnxletError> {
  const { maxMemoryBytes, signal, onProgress } = options;
  const what = 'loading the model';
  // The engine takes the bytes out of the buffer once its checks pass.
  const bytes = { loaded: held.bytes.length, total: held.bytes.length };
  let loading: WasmLoading;
  try {
    // maxMemoryBytes only when given: the module's default applies otherwise.
    const wire = maxMemoryBytes === undefined ? { freeDimensionOverrides: overrides } : { freeDimensionOverrides: overrides, maxMemoryBytes };
    loading = module.call(what, () => module.glue.WasmSession.startLoading(held.bytes, wire));
  } catch (error) {
    if (error instanceof OnnxletError) return error;
    throw error;
  }
  const { generation } = module;
  try {
    for (;;) {
      const session = module.call(what, () => loading.step(LOAD_SLICE_MS));
      if (session !== undefined) return session;
      onProgress?.({ status: 'compile', ...bytes, progress: loading.progress() });
      await nextTask();
      if (signal?.aborted) throw abortError(signal);
      if (module.generation !== generation) {
        throw new OnnxletError('RUNTIME_ERROR', 'the WebAssembly module crashed while the model loaded; create the session again');
      }
    }
  } catch (error) {
    if (error instanceof OnnxletError) return error;
    throw error;
  } finally {
    if (module.generation === generation) loading.free();
  }
}

/** A model's bytes in one module's memory, and the module generation they belong to. */
interface HeldBuffer {
  bytes: ModelBuffer;
  generation: number;
}

/**
 * Loads a model into this thread's modules: the first of {@link sessionModules} that can run it
 * (the lite module, else the tract module, fetched then), as `config` names them.
 */
export async function localBackend(source: ModelSource, options: CreateOptions, config: ModuleConfig): Promise<Backend> {
  const { onProgress, signal, integrity, headers, cache, freeDimensionOverrides, maxMemoryBytes } = options;
  const kinds = sessionModules(config);
  // The session's own instance: a crash in it loses this session only.
  let module = kinds[0].instance();
  const key = cache ? cacheKey(source) : undefined;
  const expected = integrity === undefined ? undefined : parseIntegrity(integrity);
  const algorithms = expected?.digests.map((d) => d.algorithm);
  let first: ModelBuffer;
  let fromCache: boolean;
  try {
    [first, fromCache] = await loadModel(source, key, expected, { module, config, onProgress, signal, headers, algorithms });
  } catch (error) {
    module.dispose();
    throw error;
  }
  let buffer: HeldBuffer | undefined = { bytes: first, generation: module.generation };
  const done = { loaded: first.length, total: first.length, progress: 1 } as const;
  const free = (held: HeldBuffer | undefined, owner: WasmModule) => {
    if (held !== undefined && held.generation === owner.generation) held.bytes.free();
  };
  let stored: Promise<void> | undefined;
  let session: WasmSession | undefined;
  try {
    if (key !== undefined && !fromCache) ({ stored } = await cacheModel(key, first));
    if (signal?.aborted) throw abortError(signal);
    onProgress?.({ status: 'compile', loaded: first.length, total: first.length, progress: 0 });
    const overrides = Object.entries(freeDimensionOverrides ?? {});
    for (const kind of kinds.slice(1)) {
      const held: HeldBuffer = buffer;
      const loaded = await tryLoad(module, held, overrides, { maxMemoryBytes, signal, onProgress });
      if (loaded instanceof module.glue.WasmSession) {
        session = loaded;
        break;
      }
      if (loaded.code !== 'UNSUPPORTED_OPERATOR') throw loaded;
      // A model this engine cannot run, handed to the next, on an instance of its own.
      const to = kind.instance();
      const copy = await handOver(held, module, to, config, loaded);
      free(held, module);
      module.dispose();
      buffer = { bytes: copy, generation: to.generation };
      module = to;
      if (signal?.aborted) throw abortError(signal);
    }
    if (session === undefined) {
      const loaded = await tryLoad(module, buffer, overrides, { maxMemoryBytes, signal, onProgress });
      if (!(loaded instanceof module.glue.WasmSession)) {
        const advice = loaded.code === 'UNSUPPORTED_OPERATOR' && module.engine === 'lite' ? tractNotGiven(config) : undefined;
        throw advice === undefined ? loaded : new OnnxletError(loaded.code, `${loaded.message}; ${advice}`);
      }
      session = loaded;
    }
    await module.threads();
    if (signal?.aborted) throw abortError(signal);
  } catch (error) {
    if (session !== undefined && buffer?.generation === module.generation) session.free();
    free(buffer, module);
    module.dispose();
    // Nothing is cached for a model that does not load.
    if (stored !== undefined && key !== undefined) {
      await stored.then(() => uncacheModel(key)).catch(() => {});
    }
    throw error;
  }
  const generation = buffer.generation;
  free(buffer, module);
  buffer = undefined;
  // A failure to store (e.g. over quota) is not one to load: the model is just not cached.
  await stored?.catch((error: unknown) => console.warn(`onnxlet: could not cache ${key}: ${String(error)}`));
  // The session's instance, dropped on release or crash: the collector then takes its memory even
  // while the caller still holds the session object.
  let owner: WasmModule | undefined = module;
  let gone = 'this session has been released';
  const drop = (why: string) => {
    session = undefined;
    owner?.dispose();
    owner = undefined;
    gone = why;
  };
  const crashed = 'this session was lost when its WebAssembly module crashed; create it again';
  const live = (): [WasmModule, WasmSession] => {
    if (session === undefined || owner === undefined) throw new OnnxletError('RELEASED', gone);
    if (generation !== owner.generation) {
      drop(crashed);
      throw new OnnxletError('RELEASED', crashed);
    }
    return [owner, session];
  };
  /** Calls into the session's instance; a crash there drops the session. */
  const call = <T>(what: string, f: (s: WasmSession) => T): T => {
    const [m, s] = live();
    try {
      return m.call(what, () => f(s));
    } catch (error) {
      if (m.dead) drop(crashed);
      throw error;
    }
  };
  const backend: Backend = {
    engine: module.engine,
    inputs: call('describing the inputs', (s) => s.inputs()),
    outputs: call('describing the outputs', (s) => s.outputs()),
    // A live session's module is instantiated: the run reads the feeds before the first await.
    run: async (feeds, fetches) => call('running the model', (s) => s.run(feeds, fetches)),
    crash: async () => call('crashing on purpose (a test hook)', (s) => s.crashForTests()),
    async release() {
      const [s, m] = [session, owner];
      if (s !== undefined && m !== undefined && generation === m.generation) s.free();
      drop('this session has been released');
    },
  };
  try {
    onProgress?.({ status: 'ready', ...done });
  } catch (error) {
    // The caller's callback failed: creation fails with its error, and the session is freed.
    await backend.release();
    throw error;
  }
  return backend;
}
