import { cacheKey, cacheModel, cachedModel } from './cache.js';
import { OnnxletError } from './errors.js';
import type { CreateOptions } from './create-options.js';
import { type ModelSource, type ReadOptions, abortError, checkIntegrity, modelBytes } from './source.js';
import type { TensorType } from './tensor.js';
import { WasmSession, callWasm, initialize, moduleGeneration } from './wasm.js';

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
 * The model's bytes, from the cache when `key` is given and holds a copy that passes
 * `integrity`, otherwise read from the source and checked; and whether they came from the cache.
 */
async function loadBytes(
  source: ModelSource,
  key: string | undefined,
  integrity: string | undefined,
  options: ReadOptions,
): Promise<[Uint8Array, boolean]> {
  const cached = key === undefined ? undefined : await cachedModel(key);
  const valid = async (bytes: Uint8Array) =>
    integrity === undefined || (await checkIntegrity(bytes, integrity).then(() => true, () => false));
  if (cached !== undefined && (await valid(cached))) {
    options.onProgress?.({ status: 'download', loaded: cached.length, total: cached.length, progress: 1 });
    return [cached, true];
  }
  const bytes = await modelBytes(source, options);
  if (integrity !== undefined) await checkIntegrity(bytes, integrity);
  return [bytes, false];
}

/** Loads a model into this thread's module. */
export async function localBackend(source: ModelSource, options: CreateOptions): Promise<Backend> {
  const { onProgress, signal, integrity, headers, cache, freeDimensionOverrides } = options;
  const key = cache ? cacheKey(source) : undefined;
  const [[bytes, fromCache]] = await Promise.all([
    loadBytes(source, key, integrity, { onProgress, signal, headers }),
    initialize(),
  ]);
  if (signal?.aborted) throw abortError(signal);
  const done = { loaded: bytes.length, total: bytes.length, progress: 1 } as const;
  onProgress?.({ status: 'compile', ...done });
  const overrides = Object.entries(freeDimensionOverrides ?? {});
  let session: WasmSession | undefined = callWasm(
    'loading the model',
    () => new WasmSession(bytes, { freeDimensionOverrides: overrides }),
  );
  if (signal?.aborted) {
    session.free();
    throw abortError(signal);
  }
  if (key !== undefined && !fromCache) await cacheModel(key, bytes);
  const generation = moduleGeneration();
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
