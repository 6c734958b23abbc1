import { OnnxletError } from './errors.js';
import { describe } from './tensor.js';
import { nodeFs } from './local-file.js';
import type { ModuleConfig } from './module-config.js';
import type { ModelBuffer, WasmModule } from './module.js';

/** Anything a model can be loaded from. */
export type ModelSource = string | URL | ArrayBuffer | ArrayBufferView | Response | Blob | ReadableStream<Uint8Array>;

/**
 * Progress of {@link InferenceSession.create}, a union on `status`: the model's bytes arriving
 * (`download`; `total` and `progress`, 0 to 1, are undefined while the size is unknown), then
 * the model being built (`compile`, from `progress` 0 as the build goes, for a model that takes
 * more than a few milliseconds), then done (`ready`). `loaded` and `total` count the model's bytes.
 */
export type ProgressEvent =
  | { status: 'download'; loaded: number; total: number | undefined; progress: number | undefined }
  | { status: 'compile'; loaded: number; total: number; progress: number }
  | { status: 'ready'; loaded: number; total: number; progress: 1 };

/** How {@link readModel} reads a source. @internal */
export interface ReadOptions {
  /** The module whose memory receives the bytes. */
  module: WasmModule;
  /** The configuration the module is instantiated with, if it is not yet. */
  config: ModuleConfig;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  headers?: HeadersInit;
  /** The digests to compute while reading (`sha256`, `sha384`, `sha512`), for integrity checks. */
  algorithms?: readonly string[];
}

/** Download progress is reported at least this often (ms), and at every percent. */
/** The most bytes reserved for a model on its declared size alone (WebAssembly memory never shrinks). */
const DECLARED_RESERVE_LIMIT = 256 * 1024 * 1024;
const PROGRESS_INTERVAL_MS = 100;

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** A model URL made absolute against the page (as the Cache API and workers need it). @internal */
export function absoluteUrl(url: string | URL): string {
  return new URL(String(url), globalThis.location?.href).href;
}

function hasScheme(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^(data|blob):/i.test(s);
}

/** Whether a string source is a file path: a string without a URL scheme, outside browsers. @internal */
export function isLocalPath(source: string): boolean {
  return isNode && !hasScheme(source);
}

/** The abort reason as thrown by fetch: an `AbortError` unless the caller gave another reason. @internal */
export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/** Chunks of a local file are read this size at a time. */
const FILE_CHUNK = 1 << 20;

/**
 * Writes a model's bytes into a {@link ModelBuffer} in the module's memory as they arrive, so the
 * model is never held whole in JS, reporting progress; on any failure or abort the buffer is freed.
 * Chunks that arrive before the module is instantiated wait in JS, so the download does not.
 */
class ModelWriter {
  private buffer: ModelBuffer | undefined;
  private generation = -1;
  private pending: Uint8Array[] = [];
  private initError: unknown;
  private loaded = 0;
  private lastPercent = -1;
  private lastTime = 0;

  private constructor(
    readonly total: number | undefined,
    readonly label: string,
    private readonly options: ReadOptions,
  ) {
    this.report(true);
  }

  write(chunk: Uint8Array): void {
    const { signal } = this.options;
    if (signal?.aborted) throw abortError(signal);
    if (this.initError !== undefined) throw this.initError;
    if (this.total !== undefined && this.loaded + chunk.length > this.total) {
      throw new OnnxletError('FETCH_FAILED', `model ${this.label} is larger than its declared ${this.total} bytes`);
    }
    this.open();
    if (this.buffer === undefined) this.pending.push(chunk.slice());
    else this.append(chunk);
    this.loaded += chunk.length;
    this.report(false);
  }

  /** Creates the buffer once the module is there, and moves waiting chunks into it. */
  private open(): void {
    const { module } = this.options;
    if (this.buffer !== undefined || !module.instantiated) return;
    // What a server declares is reserved up to a bound: past it, the buffer grows as bytes arrive
    // (a response declaring 2 GB and sending 1 KB grew the module's memory by 2 GB for good).
    const capacity = Math.min(this.total ?? 0, DECLARED_RESERVE_LIMIT);
    const algorithms = [...(this.options.algorithms ?? [])];
    this.generation = module.generation;
    this.buffer = module.call(
      `allocating ${capacity} bytes for model ${this.label}`,
      () => new module.glue.ModelBuffer(capacity, algorithms),
    );
    for (const chunk of this.pending) this.append(chunk);
    this.pending = [];
  }

  private append(chunk: Uint8Array): void {
    const { module } = this.options;
    if (this.generation !== module.generation) throw this.resetError();
    const buffer = this.buffer as ModelBuffer;
    module.call(`receiving model ${this.label}`, () => buffer.append(chunk));
  }

  private finish(): ModelBuffer {
    if (this.total !== undefined && this.loaded !== this.total) {
      throw new OnnxletError('FETCH_FAILED', `model ${this.label} ended after ${this.loaded} of its ${this.total} bytes`);
    }
    this.open();
    if (this.buffer === undefined) throw this.resetError();
    this.report(true);
    return this.buffer;
  }

  private resetError(): OnnxletError {
    return new OnnxletError('RUNTIME_ERROR', `the WebAssembly module crashed while model ${this.label} was loading; create the session again`);
  }

  private report(force: boolean): void {
    const { onProgress } = this.options;
    if (!onProgress) return;
    const { loaded, total } = this;
    const progress = total ? loaded / total : total === 0 ? 1 : undefined;
    const percent = progress === undefined ? -1 : Math.floor(progress * 100);
    const now = Date.now();
    if (force || percent > this.lastPercent || now - this.lastTime >= PROGRESS_INTERVAL_MS) {
      this.lastPercent = percent;
      this.lastTime = now;
      onProgress({ status: 'download', loaded, total, progress });
    }
  }

  private free(): void {
    if (this.buffer !== undefined && this.generation === this.options.module.generation) this.buffer.free();
    this.buffer = undefined;
    this.pending = [];
  }

  /**
   * Runs `fill` against a new writer while the module instantiates, and returns the filled
   * buffer; frees it if anything fails.
   */
  static async into(
    total: number | undefined,
    label: string,
    options: ReadOptions,
    fill: (writer: ModelWriter) => Promise<void>,
  ): Promise<ModelBuffer> {
    if (options.signal?.aborted) throw abortError(options.signal);
    const writer = new ModelWriter(total, label, options);
    const ready = options.module.initialize(options.config).catch((error: unknown) => {
      writer.initError = error;
    });
    try {
      await fill(writer);
      await ready;
      if (writer.initError !== undefined) throw writer.initError;
      if (options.signal?.aborted) throw abortError(options.signal);
      return writer.finish();
    } catch (error) {
      writer.free();
      throw error;
    }
  }
}

async function readStream(
  stream: ReadableStream<Uint8Array>,
  total: number | undefined,
  label: string,
  options: ReadOptions,
): Promise<ModelBuffer> {
  const { signal } = options;
  const reader = stream.getReader();
  const abort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', abort, { once: true });
  try {
    return await ModelWriter.into(total, label, options, async (writer) => {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (signal?.aborted) throw abortError(signal);
          throw new OnnxletError('FETCH_FAILED', `reading model ${label} failed: ${(error as Error).message}`, { cause: error });
        }
        if (chunk.done) return;
        writer.write(chunk.value);
      }
    });
  } catch (error) {
    void reader.cancel().catch(() => {});
    throw error;
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

/** The bytes of a response, streamed into the module. @internal */
export async function readResponse(response: Response, label: string, options: ReadOptions): Promise<ModelBuffer> {
  if (!response.ok) {
    throw new OnnxletError('FETCH_FAILED', `could not fetch model ${label}: HTTP ${response.status} ${response.statusText}`);
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
  // A compressed body's Content-Length counts compressed bytes, not what the stream yields.
  const total = Number.isSafeInteger(length) && !encoded ? length : undefined;
  const body = response.body ?? new Blob([await response.arrayBuffer()]).stream();
  return readStream(body, total, label, options);
}

async function fetchModel(url: string | URL, options: ReadOptions): Promise<ModelBuffer> {
  let response: Response;
  // The module instantiates while the request is under way.
  void options.module.initialize(options.config).catch(() => {});
  try {
    response = await fetch(url, { signal: options.signal, headers: options.headers });
  } catch (error) {
    if (options.signal?.aborted) throw abortError(options.signal);
    throw new OnnxletError('FETCH_FAILED', `could not fetch model ${String(url)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return readResponse(response, String(url), options);
}

/** A local file (Node, Deno, Bun), read into the module a chunk at a time. @internal */
export async function readFileModel(path: string | URL, options: ReadOptions): Promise<ModelBuffer> {
  const fs = await nodeFs(path);
  const failed = (error: unknown) =>
    new OnnxletError('FETCH_FAILED', `cannot read ${String(path)}: ${(error as Error).message}`, { cause: error });
  let file: Awaited<ReturnType<typeof fs.open>>;
  try {
    // Checked before opening: opening a FIFO waits for a writer, which may never come.
    const stat = await fs.stat(path);
    if (!stat.isFile()) {
      throw new Error(`${stat.isDirectory() ? 'it is a directory' : 'it is not a regular file'}, not an ONNX model file`);
    }
    file = await fs.open(path);
  } catch (error) {
    throw failed(error);
  }
  try {
    const { size } = await file.stat();
    return await ModelWriter.into(size, String(path), options, async (writer) => {
      const chunk = new Uint8Array(Math.min(FILE_CHUNK, Math.max(size, 1)));
      for (let position = 0; position < size; ) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await file.read(chunk, 0, Math.min(chunk.length, size - position), position));
        } catch (error) {
          throw failed(error);
        }
        if (bytesRead === 0) break;
        writer.write(chunk.subarray(0, bytesRead));
        position += bytesRead;
        if (options.signal?.aborted) throw abortError(options.signal);
      }
    });
  } finally {
    await file.close();
  }
}

/** Bytes in memory are copied into the module this much at a time, returning to the event loop in between. */
const COPY_CHUNK = 8 << 20;

/** Bytes already in memory, copied into the module a chunk at a time (a large model froze the page). */
function readBytes(bytes: Uint8Array, options: ReadOptions): Promise<ModelBuffer> {
  return ModelWriter.into(bytes.length, 'from memory', options, async (writer) => {
    for (let at = 0; at < bytes.length || at === 0; at += COPY_CHUNK) {
      if (at > 0) await nextTask();
      writer.write(bytes.subarray(at, at + COPY_CHUNK));
    }
  });
}

/**
 * Returns to the event loop (its tasks, timers, I/O and aborts) and comes back at once. @internal
 *
 * Not `scheduler.yield()`: Chromium runs its continuations ahead of every task of the same
 * priority, timers included, so a model built a slice at a time starved the page's timers for the
 * whole build, and an `AbortSignal.timeout()` fired only once the session was made.
 */
export function nextTask(): Promise<void> {
  const { setImmediate } = globalThis as { setImmediate?: (callback: () => void) => unknown };
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    // Not setTimeout(0), which browsers stretch to 4 ms once nested.
    return new Promise((resolve) => {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => {
        port1.close();
        resolve();
      };
      port2.postMessage(undefined);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}


/**
 * Reads a model source into a {@link ModelBuffer} in the module's memory. URLs, files,
 * responses, blobs and streams are read chunk by chunk, with progress and cancellation; the
 * caller owns (and must free or consume) the buffer.
 @internal */
export async function readModel(source: ModelSource, options: ReadOptions): Promise<ModelBuffer> {
  if (options.signal?.aborted) throw abortError(options.signal);
  if (typeof source === 'string') {
    if (/^file:/i.test(source)) return readFileModel(new URL(source), options);
    return isLocalPath(source) ? readFileModel(source, options) : fetchModel(source, options);
  }
  if (source instanceof URL) {
    return source.protocol === 'file:' ? readFileModel(source, options) : fetchModel(source, options);
  }
  if (source instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && source instanceof SharedArrayBuffer)) {
    return readBytes(new Uint8Array(source), options);
  }
  if (ArrayBuffer.isView(source)) {
    return readBytes(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), options);
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return readResponse(source, source.url || 'from Response', options);
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return readStream(source.stream() as ReadableStream<Uint8Array>, source.size, 'from Blob', options);
  }
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
    return readStream(source, undefined, 'from ReadableStream', options);
  }
  throw new OnnxletError(
    'INVALID_ARGUMENT',
    'InferenceSession.create needs a URL, a path, an ArrayBuffer, a Uint8Array, a Blob, a ReadableStream or a ' +
      `Response, got ${describe(source)}`,
  );
}

/** A parsed Subresource Integrity value: the acceptable digests, by algorithm. @internal */
export interface Integrity {
  readonly value: string;
  readonly digests: readonly { algorithm: string; digest: string }[];
}

/** Parses a Subresource Integrity value (`sha256-…`, `sha384-…` or `sha512-…`, space-separated). @internal */
export function parseIntegrity(integrity: string): Integrity {
  const tokens = integrity.trim().split(/\s+/).map((token) => token.match(/^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/));
  if (tokens.length === 0 || tokens.some((m) => m === null)) {
    throw new OnnxletError('INVALID_ARGUMENT', `integrity must look like 'sha256-<base64 digest>', got ${JSON.stringify(integrity)}`);
  }
  return { value: integrity, digests: (tokens as RegExpMatchArray[]).map(([, algorithm, digest]) => ({ algorithm, digest })) };
}

/** Whether the bytes in `buffer` (read with the integrity's algorithms) match it; else the actual digests. @internal */
export function integrityMismatch(buffer: ModelBuffer, integrity: Integrity): string | undefined {
  const actual: string[] = [];
  for (const { algorithm, digest } of integrity.digests) {
    const hash = buffer.digest(algorithm);
    const base64 = hash === undefined ? '' : btoa(String.fromCharCode(...hash));
    if (base64 === digest) return undefined;
    actual.push(`${algorithm}-${base64}`);
  }
  return actual.join(' ');
}
