import { OnnxletError } from './errors.js';
import { describe } from './tensor.js';

/** Anything a model can be loaded from. */
export type ModelSource = string | URL | ArrayBuffer | ArrayBufferView | Response | Blob;

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

function hasScheme(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^(data|blob):/i.test(s);
}

async function fetchBytes(url: string | URL): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new OnnxletError('FETCH_FAILED', `could not fetch model ${String(url)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return responseBytes(response, String(url));
}

async function responseBytes(response: Response, label: string): Promise<Uint8Array> {
  if (!response.ok) {
    throw new OnnxletError('FETCH_FAILED', `could not fetch model ${label}: HTTP ${response.status} ${response.statusText}`);
  }
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new OnnxletError('FETCH_FAILED', `reading model ${label} failed: ${(error as Error).message}`, { cause: error });
  }
}

/** Resolves a model source to its bytes (views are not copied). */
export async function modelBytes(source: ModelSource): Promise<Uint8Array> {
  if (typeof source === 'string') {
    if (isNode && !hasScheme(source)) return readLocalFile(source);
    return fetchBytes(source);
  }
  if (source instanceof URL) {
    return source.protocol === 'file:' ? readLocalFile(source) : fetchBytes(source);
  }
  if (source instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && source instanceof SharedArrayBuffer)) {
    return new Uint8Array(source);
  }
  if (ArrayBuffer.isView(source)) {
    return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return responseBytes(source, source.url || 'from Response');
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return new Uint8Array(await source.arrayBuffer());
  }
  throw new OnnxletError(
    'INVALID_ARGUMENT',
    `InferenceSession.create needs a URL, a path, an ArrayBuffer, a Uint8Array, a Blob or a Response, got ${describe(source)}`,
  );
}
