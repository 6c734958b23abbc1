import { cacheKey, cacheModel, cachedModel, uncacheModel } from './cache.js';
import { OnnxletError } from './errors.js';
import type { CreateOptions } from './create-options.js';
import { type Integrity, type ModelSource, type ReadOptions, abortError, integrityMismatch, parseIntegrity, readModel } from './source.js';
import type { TensorType } from './tensor.js';
import { type ModelBuffer, WasmSession, callWasm, initialize, moduleGeneration } from './wasm.js';

/** A tensor as it crosses into and out of the module (or a worker): little-endian bytes. */
export interface WireValue {
  name: string;
  type: TensorType;
  dims: number[];
  data: Uint8Array;
}

/** A model input or output as the module describes it. */
export interface WireMetadata {
  name: string;
  type: TensorType;
  shape: (number | string)[];
}

/** Where a session runs: in this thread's module, or in a worker's. */
export interface Backend {
  readonly inputs: readonly WireMetadata[];
  readonly outputs: readonly WireMetadata[];
  run(feeds: WireValue[], fetches: string[] | undefined): Promise<WireValue[]>;
  release(): Promise<void>;
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

/** Loads a model into this thread's module. */
export async function localBackend(source: ModelSource, options: CreateOptions): Promise<Backend> {
  const { onProgress, signal, integrity, headers, cache, freeDimensionOverrides } = options;
  const key = cache ? cacheKey(source) : undefined;
  const expected = integrity === undefined ? undefined : parseIntegrity(integrity);
  const algorithms = expected?.digests.map((d) => d.algorithm);
  const [buffer, fromCache] = await loadModel(source, key, expected, { onProgress, signal, headers, algorithms });
  const done = { loaded: buffer.length, total: buffer.length, progress: 1 } as const;
  const generation = moduleGeneration();
  let consumed = false;
  let stored: Promise<void> | undefined;
  let session: WasmSession | undefined;
  try {
    if (key !== undefined && !fromCache) ({ stored } = await cacheModel(key, buffer));
    if (signal?.aborted) throw abortError(signal);
    onProgress?.({ status: 'compile', ...done });
    const overrides = Object.entries(freeDimensionOverrides ?? {});
    consumed = true;
    session = callWasm('loading the model', () => WasmSession.fromBuffer(buffer, { freeDimensionOverrides: overrides }));
    if (signal?.aborted) throw abortError(signal);
  } catch (error) {
    if (generation === moduleGeneration()) {
      if (!consumed) buffer.free();
      session?.free();
    }
    // Nothing is cached for a model that does not load.
    if (stored !== undefined && key !== undefined) {
      await stored.then(() => uncacheModel(key)).catch(() => {});
    }
    throw error;
  }
  // A failure to store (e.g. over quota) is not one to load: the model is just not cached.
  await stored?.catch((error: unknown) => console.warn(`onnxlet: could not cache ${key}: ${String(error)}`));
  const live = (): WasmSession => {
    if (session === undefined) throw new OnnxletError('RELEASED', 'this session has been released');
    if (generation !== moduleGeneration()) {
      session = undefined;
      throw new OnnxletError(
        'RELEASED',
        'this session was lost when the WebAssembly module was reset after a crash; create it again',
      );
    }
    return session;
  };
  const describeValues = (what: string, f: (s: WasmSession) => unknown) =>
    callWasm(`describing the ${what}`, () => f(live())) as WireMetadata[];
  const backend: Backend = {
    inputs: describeValues('inputs', (s) => s.inputs()),
    outputs: describeValues('outputs', (s) => s.outputs()),
    async run(feeds, fetches) {
      await initialize();
      const s = live();
      return callWasm('running the model', () => s.run(feeds, fetches)) as WireValue[];
    },
    async release() {
      const s = session;
      session = undefined;
      if (s && generation === moduleGeneration()) s.free();
    },
  };
  onProgress?.({ status: 'ready', ...done });
  return backend;
}
