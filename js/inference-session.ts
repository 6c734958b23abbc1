import { type Backend, type WireValue, localBackend } from './backend.js';
import type { CreateOptions } from './create-options.js';
import type { EngineName } from './env.js';
import { OnnxletError } from './errors.js';
import type { ModelSource } from './source.js';
import { Tensor, type TensorType, describe, holdsType, isTensorType, tensorBytes } from './tensor.js';
import { resolveConfig } from './module-config.js';
import { sessionThreads } from './threads.js';
import { workerBackend } from './worker-backend.js';

/* eslint-disable @typescript-eslint/no-namespace */
export declare namespace InferenceSession {
  /**
   * A model input or output as the model declares it. Symbolic dimensions are strings (e.g. `'N'`);
   * `'?'` is a dimension the model leaves unknown.
   */
  interface ValueMetadata {
    readonly name: string;
    readonly isTensor: true;
    readonly type: TensorType;
    readonly shape: ReadonlyArray<number | string>;
  }

  /** Options for {@link InferenceSession.create}. */
  interface SessionOptions extends CreateOptions {
    /**
     * Runs the session in a dedicated Web Worker (`onnxlet.worker.mjs`, beside the script), with
     * the same API: the page stays responsive during long runs. Inputs are copied to the worker
     * and outputs transferred back. Browsers and Deno only. Sessions on more than one thread
     * (`env.wasm.numThreads`) always run in a worker.
     */
    worker?: boolean;
  }

  /** Inputs by name. */
  type FeedsType = Readonly<Record<string, Tensor>>;
  /** Output names to compute: an array, or an object whose keys are the names (values must be `null`). */
  type FetchesType = readonly string[] | Readonly<Record<string, null>>;
  /** Outputs by name. */
  type ReturnType = Record<string, Tensor>;
}


function checkOptions(options: unknown): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') {
    throw new OnnxletError('INVALID_ARGUMENT', `session options must be an object, got ${describe(options)}`);
  }
  const { freeDimensionOverrides: overrides, maxMemoryBytes, onProgress, signal, integrity, cache, worker } =
    options as InferenceSession.SessionOptions;
  if (maxMemoryBytes !== undefined && (typeof maxMemoryBytes !== 'number' || !Number.isSafeInteger(maxMemoryBytes) || maxMemoryBytes <= 0)) {
    throw new OnnxletError('INVALID_ARGUMENT', `maxMemoryBytes must be a positive integer (bytes), got ${describe(maxMemoryBytes)}`);
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new OnnxletError('INVALID_ARGUMENT', `onProgress must be a function, got ${describe(onProgress)}`);
  }
  if (signal !== undefined && !(typeof AbortSignal !== 'undefined' && signal instanceof AbortSignal)) {
    throw new OnnxletError('INVALID_ARGUMENT', `signal must be an AbortSignal, got ${describe(signal)}`);
  }
  if (worker !== undefined && typeof worker !== 'boolean') {
    throw new OnnxletError('INVALID_ARGUMENT', `worker must be a boolean, got ${describe(worker)}`);
  }
  if (cache !== undefined && typeof cache !== 'boolean') {
    throw new OnnxletError('INVALID_ARGUMENT', `cache must be a boolean, got ${describe(cache)}`);
  }
  if (integrity !== undefined && typeof integrity !== 'string') {
    throw new OnnxletError('INVALID_ARGUMENT', `integrity must be a string like 'sha256-…', got ${describe(integrity)}`);
  }
  if (overrides === undefined) return;
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new OnnxletError('INVALID_ARGUMENT', `freeDimensionOverrides must be an object like { N: 1 }, got ${describe(overrides)}`);
  }
  for (const [name, value] of Object.entries(overrides)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new OnnxletError(
        'INVALID_ARGUMENT',
        `freeDimensionOverrides.${name} must be a non-negative integer, got ${describe(value)}`,
      );
    }
  }
}

function isTensorLike(value: unknown): value is Tensor {
  if (value instanceof Tensor) return true;
  const v = value as Partial<Tensor> | null;
  return typeof v === 'object' && v !== null && isTensorType(v.type) && Array.isArray(v.dims) && holdsType(v.type, v.data);
}

/**
 * A feed's bytes, read now; a value that is not a readable tensor is an `INVALID_INPUT`. That
 * its data fits its dims is the module's check.
 */
function wireValue(name: string, value: unknown): WireValue {
  try {
    if (!isTensorLike(value)) {
      throw new OnnxletError('INVALID_INPUT', `input '${name}' must be a Tensor, got ${describe(value)}`);
    }
    const { type, dims, data } = value;
    return { name, type, dims: [...dims], data: tensorBytes(type, data) };
  } catch (error) {
    if (error instanceof OnnxletError) throw error;
    // A Proxy of a Tensor (which lacks the tensor's private fields), or data whose buffer was
    // transferred (detached).
    throw new OnnxletError('INVALID_INPUT', `input '${name}' cannot be read as a tensor: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * A loaded model, with onnxruntime-web's API:
 *
 * ```ts
 * const session = await InferenceSession.create('model.onnx');
 * const { output } = await session.run({ input: new Tensor('float32', data, [1, 3, 224, 224]) });
 * ```
 */
export class InferenceSession {
  /** The model's input names, in declaration order. */
  readonly inputNames: readonly string[];
  /** The model's output names, in declaration order. */
  readonly outputNames: readonly string[];
  /** The model's inputs: name, element type and shape. */
  readonly inputMetadata: readonly InferenceSession.ValueMetadata[];
  /** The model's outputs: name, element type and shape. */
  readonly outputMetadata: readonly InferenceSession.ValueMetadata[];
  /**
   * The engine the model runs on (not in onnxruntime-web): `'lite'`, onnxlet's own interpreter
   * (the default), or `'tract'`, for a model with an operator or dtype the lite engine lacks,
   * or when `env.wasm.build` asks for it.
   */
  readonly engine: EngineName;
  readonly #backend: Backend;

  private constructor(backend: Backend) {
    this.#backend = backend;
    this.engine = backend.engine;
    const metadata = (list: readonly Omit<InferenceSession.ValueMetadata, 'isTensor'>[]) =>
      Object.freeze(
        list.map((m) =>
          Object.freeze({ name: m.name, isTensor: true as const, type: m.type, shape: Object.freeze([...m.shape]) }),
        ),
      );
    this.inputMetadata = metadata(backend.inputs);
    this.outputMetadata = metadata(backend.outputs);
    this.inputNames = Object.freeze(this.inputMetadata.map((m) => m.name));
    this.outputNames = Object.freeze(this.outputMetadata.map((m) => m.name));
  }

  /**
   * Loads a model from a URL (or, in Node, a file path), an `ArrayBuffer`, a typed array, a
   * `Blob`, a `ReadableStream` or a `Response`. The WebAssembly module is fetched and compiled
   * on the first call.
   */
  static async create(source: ModelSource, options?: InferenceSession.SessionOptions): Promise<InferenceSession> {
    checkOptions(options);
    const { worker, ...rest } = options ?? {};
    const config = resolveConfig();
    const threads = sessionThreads(config);
    const backend =
      worker || threads > 1 ? await workerBackend(source, rest, config, threads) : await localBackend(source, rest, config);
    return new InferenceSession(backend);
  }

  /**
   * Runs the model. `feeds` must hold a tensor for every input; `fetches` picks outputs
   * (all by default). Resolves to the outputs by name.
   */
  async run(
    feeds: InferenceSession.FeedsType,
    fetches?: InferenceSession.FetchesType,
  ): Promise<InferenceSession.ReturnType> {
    const wire = this.#checkFeeds(feeds);
    const names = this.#checkFetches(fetches);
    // The backend reads the feeds before this call returns: changing a tensor's data afterwards
    // does not change this run.
    const outputs = await this.#backend.run(wire, names);
    const result: InferenceSession.ReturnType = {};
    for (const o of outputs) {
      // Defined, not assigned: an output named `__proto__` is an output like any other.
      Object.defineProperty(result, o.name, {
        value: Tensor.fromBytes(o.type, o.dims, o.data),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return result;
  }

  /**
   * @internal Traps the WebAssembly instance this session runs in, on purpose: the tests of what
   * a crash does call it, since no model is known to crash the module. Not public API.
   */
  [Symbol.for('onnxlet.crashForTests')](): Promise<void> {
    return this.#backend.crash();
  }

  /** Frees the model's memory (and stops its worker). Further calls reject with `RELEASED`. */
  async release(): Promise<void> {
    await this.#backend.release();
  }

  /**
   * The feeds as they cross into the module. Only what is particular to JS is checked here (the
   * feeds' own properties, each a readable tensor); the names, types and shapes are checked by
   * the module against the model (src/session.rs), whichever backend runs it.
   */
  #checkFeeds(feeds: unknown): WireValue[] {
    if (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds) || isTensorLike(feeds)) {
      throw new OnnxletError(
        'INVALID_ARGUMENT',
        `feeds must be an object mapping input names to tensors, got ${describe(feeds)}`,
      );
    }
    // Own properties only: a key inherited from `Object.prototype` is not a feed.
    return Object.keys(feeds).map((name) => wireValue(name, (feeds as Record<string, unknown>)[name]));
  }

  /** The output names asked for, as the module takes them; only their JS form is checked here. */
  #checkFetches(fetches: unknown): string[] | undefined {
    if (fetches === undefined) return undefined;
    let names: unknown[];
    if (Array.isArray(fetches)) {
      names = fetches;
    } else if (fetches !== null && typeof fetches === 'object') {
      for (const [name, value] of Object.entries(fetches)) {
        if (value !== null) {
          throw new OnnxletError('INVALID_ARGUMENT', `fetches.${name}: pre-allocated output tensors are not supported; use null`);
        }
      }
      names = Object.keys(fetches);
    } else {
      throw new OnnxletError('INVALID_ARGUMENT', `fetches must be an array of output names, got ${describe(fetches)}`);
    }
    // Which names the model has is the module's check (src/session.rs).
    const bad = names.find((name) => typeof name !== 'string');
    if (bad !== undefined) {
      throw new OnnxletError('INVALID_ARGUMENT', `fetches must name outputs with strings, got ${describe(bad)}`);
    }
    return names as string[];
  }
}
