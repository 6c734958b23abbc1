import { OnnxletError } from './errors.js';
import { describe } from './tensor.js';

/** Anything a model can be loaded from. */
export type ModelSource = string | URL | ArrayBuffer | ArrayBufferView | Response | Blob | ReadableStream<Uint8Array>;

/**
 * Progress of {@link InferenceSession.create}, a union on `status`: the model's bytes arriving
 * (`download`), then the model being parsed and optimised (`compile`), then done (`ready`).
 * `total` and `progress` (0 to 1) are undefined while the size is unknown.
 */
export type ProgressEvent =
  | { status: 'download'; loaded: number; total: number | undefined; progress: number | undefined }
  | { status: 'compile'; loaded: number; total: number; progress: 1 }
  | { status: 'ready'; loaded: number; total: number; progress: 1 };

/** How {@link modelBytes} reads a source. */
export interface ReadOptions {
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  headers?: HeadersInit;
}

/** Download progress is reported at least this often (ms), and at every percent. */
const PROGRESS_INTERVAL_MS = 100;

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Reads a local file in Node (and Deno/Bun's Node compatibility), hidden from bundlers. */
export async function readLocalFile(path: string | URL): Promise<Uint8Array> {
  const specifier = 'node:fs/promises';
  let fs: typeof import('node:fs/promises');
  try {
    fs = await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
  } catch {
    throw new OnnxletError('FETCH_FAILED', `cannot read ${String(path)}: no file system in this environment`);
  }
  try {
    return await fs.readFile(path);
  } catch (error) {
    throw new OnnxletError('FETCH_FAILED', `cannot read ${String(path)}: ${(error as Error).message}`, { cause: error });
  }
}

/** A model URL made absolute against the page (as the Cache API and workers need it). */
export function absoluteUrl(url: string | URL): string {
  return new URL(String(url), globalThis.location?.href).href;
}

function hasScheme(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^(data|blob):/i.test(s);
}

/** The abort reason as thrown by fetch: an `AbortError` unless the caller gave another reason. */
export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/** Reads a stream into one buffer, sized from `total` when known and grown otherwise. */
async function readStream(
  stream: ReadableStream<Uint8Array>,
  total: number | undefined,
  label: string,
  { onProgress, signal }: ReadOptions,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const abort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', abort, { once: true });
  let buffer = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  let lastPercent = -1;
  let lastTime = 0;
  const report = (force: boolean) => {
    if (!onProgress) return;
    const progress = total ? loaded / total : undefined;
    const percent = progress === undefined ? -1 : Math.floor(progress * 100);
    const now = Date.now();
    if (force || percent > lastPercent || now - lastTime >= PROGRESS_INTERVAL_MS) {
      lastPercent = percent;
      lastTime = now;
      onProgress({ status: 'download', loaded, total, progress });
    }
  };
  try {
    report(true);
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal?.aborted) throw abortError(signal);
        throw new OnnxletError('FETCH_FAILED', `reading model ${label} failed after ${loaded} bytes: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (signal?.aborted) throw abortError(signal);
      if (chunk.done) break;
      const bytes = chunk.value;
      if (loaded + bytes.length > buffer.length) {
        if (total !== undefined) {
          throw new OnnxletError('FETCH_FAILED', `model ${label} is larger than its declared ${total} bytes`);
        }
        const grown = new Uint8Array(Math.max(buffer.length * 2, loaded + bytes.length));
        grown.set(buffer.subarray(0, loaded));
        buffer = grown;
      }
      buffer.set(bytes, loaded);
      loaded += bytes.length;
      report(false);
    }
  } finally {
    signal?.removeEventListener('abort', abort);
  }
  if (total !== undefined && loaded !== total) {
    throw new OnnxletError('FETCH_FAILED', `model ${label} ended after ${loaded} of its ${total} bytes`);
  }
  report(true);
  return loaded === buffer.length ? buffer : buffer.slice(0, loaded);
}

async function responseBytes(response: Response, label: string, options: ReadOptions): Promise<Uint8Array> {
  if (!response.ok) {
    throw new OnnxletError('FETCH_FAILED', `could not fetch model ${label}: HTTP ${response.status} ${response.statusText}`);
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
  // A compressed body's Content-Length counts compressed bytes, not what the stream yields.
  const total = Number.isSafeInteger(length) && !encoded ? length : undefined;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  return readStream(response.body, total, label, options);
}

async function fetchBytes(url: string | URL, options: ReadOptions): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal, headers: options.headers });
  } catch (error) {
    if (options.signal?.aborted) throw abortError(options.signal);
    throw new OnnxletError('FETCH_FAILED', `could not fetch model ${String(url)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return responseBytes(response, String(url), options);
}

/** Reports a source already in memory as fully downloaded. */
function inMemory(bytes: Uint8Array, { onProgress }: ReadOptions): Uint8Array {
  onProgress?.({ status: 'download', loaded: bytes.length, total: bytes.length, progress: 1 });
  return bytes;
}

/**
 * Resolves a model source to its bytes (views are not copied). URLs, responses, blobs and streams
 * are read chunk by chunk, with progress and cancellation.
 */
export async function modelBytes(source: ModelSource, options: ReadOptions = {}): Promise<Uint8Array> {
  if (options.signal?.aborted) throw abortError(options.signal);
  if (typeof source === 'string') {
    if (isNode && !hasScheme(source)) return inMemory(await readLocalFile(source), options);
    return fetchBytes(source, options);
  }
  if (source instanceof URL) {
    return source.protocol === 'file:' ? inMemory(await readLocalFile(source), options) : fetchBytes(source, options);
  }
  if (source instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && source instanceof SharedArrayBuffer)) {
    return inMemory(new Uint8Array(source), options);
  }
  if (ArrayBuffer.isView(source)) {
    return inMemory(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), options);
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return responseBytes(source, source.url || 'from Response', options);
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

/** Checks `bytes` against a Subresource Integrity value (`sha256-…`, `sha384-…` or `sha512-…`). */
export async function checkIntegrity(bytes: Uint8Array, integrity: string): Promise<void> {
  const algorithms: Record<string, string> = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };
  const expected = integrity.trim().split(/\s+/).map((token) => token.match(/^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/));
  if (expected.length === 0 || expected.some((m) => m === null)) {
    throw new OnnxletError('INVALID_ARGUMENT', `integrity must look like 'sha256-<base64 digest>', got ${JSON.stringify(integrity)}`);
  }
  // WebCrypto does not read shared memory.
  const data = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
  const actual: string[] = [];
  for (const [, algorithm, digest] of expected as RegExpMatchArray[]) {
    const hash = new Uint8Array(await crypto.subtle.digest(algorithms[algorithm], data));
    const base64 = btoa(String.fromCharCode(...hash));
    if (base64 === digest) return;
    actual.push(`${algorithm}-${base64}`);
  }
  throw new OnnxletError(
    'INTEGRITY_MISMATCH',
    `the model's bytes do not match its integrity value: expected ${integrity}, got ${actual.join(' ')}`,
  );
}
