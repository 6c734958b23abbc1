import { env } from './env.js';
import { OnnxletError } from './errors.js';
import { type ReadOptions, absoluteUrl, readFileModel, readResponse } from './source.js';
import type { ModelBuffer } from './module.js';

/** A directory cache is written this many bytes at a time. */
const WRITE_CHUNK = 1 << 20;

/** A model stored by `InferenceSession.create(url, { cache: true })`. */
export interface CachedModel {
  readonly url: string;
  readonly bytes: number;
}

/** The Cache API bucket that holds models in browsers and workers. */
const CACHE_NAME = 'onnxlet-models-v1';

interface Store {
  /** The cached model read into the module, if there is one. */
  get(url: string, options: ReadOptions): Promise<ModelBuffer | undefined>;
  /**
   * Stores the model; resolves once the bytes have been taken from `buffer`, to a promise that
   * settles when they are stored.
   */
  put(url: string, buffer: ModelBuffer): Promise<{ stored: Promise<void> }>;
  list(): Promise<CachedModel[]>;
  delete(url: string): Promise<boolean>;
}

/** The Cache API (browsers, workers, Deno), keyed by URL. */
function cacheApiStore(): Store {
  const open = () => caches.open(CACHE_NAME);
  return {
    async get(url, options) {
      const response = await (await open()).match(url);
      return response ? readResponse(response, url, options) : undefined;
    },
    async put(url, buffer) {
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(buffer.length) };
      // The Response copies the view's bytes synchronously, before the module can allocate, and
      // the browser writes them to disk while the model compiles. A view of a shared memory (the
      // multi-threaded module's) is copied first: the Fetch standard's body types exclude shared
      // buffers, though Chromium accepts them.
      const view = buffer.view();
      const bytes = view.buffer instanceof ArrayBuffer ? view : view.slice();
      const response = new Response(bytes as Uint8Array<ArrayBuffer>, { headers });
      return { stored: open().then((cache) => cache.put(url, response)) };
    },
    async list() {
      const cache = await open();
      const keys = await cache.keys();
      return Promise.all(
        keys.map(async (request) => {
          const length = (await cache.match(request))?.headers.get('content-length');
          return { url: request.url, bytes: Number(length ?? 0) };
        }),
      );
    },
    async delete(url) {
      return (await open()).delete(url);
    },
  };
}

/** A directory (Node, Bun): one file per model, named by the SHA-256 of its URL, and an index. */
function directoryStore(directory: string): Store {
  const modules = async () => {
    const [fs, path, crypto] = ['node:fs/promises', 'node:path', 'node:crypto'];
    return {
      fs: (await import(/* @vite-ignore */ /* webpackIgnore: true */ fs)) as typeof import('node:fs/promises'),
      path: (await import(/* @vite-ignore */ /* webpackIgnore: true */ path)) as typeof import('node:path'),
      crypto: (await import(/* @vite-ignore */ /* webpackIgnore: true */ crypto)) as typeof import('node:crypto'),
    };
  };
  const file = async (url: string) => {
    const { path, crypto } = await modules();
    return path.join(directory, `${crypto.createHash('sha256').update(url).digest('hex')}.onnx`);
  };
  const readIndex = async (): Promise<Record<string, number>> => {
    const { fs, path } = await modules();
    try {
      return JSON.parse(await fs.readFile(path.join(directory, 'index.json'), 'utf8')) as Record<string, number>;
    } catch {
      return {};
    }
  };
  const writeIndex = async (index: Record<string, number>) => {
    const { fs, path } = await modules();
    const target = path.join(directory, 'index.json');
    await fs.writeFile(`${target}.tmp`, JSON.stringify(index, null, 2));
    await fs.rename(`${target}.tmp`, target);
  };
  return {
    async get(url, options) {
      const { fs } = await modules();
      if (!((await readIndex())[url] >= 0)) return undefined;
      const path = await file(url);
      try {
        await fs.access(path);
      } catch {
        return undefined;
      }
      return readFileModel(path, options);
    },
    async put(url, buffer) {
      const { fs } = await modules();
      await fs.mkdir(directory, { recursive: true });
      const target = await file(url);
      const out = await fs.open(`${target}.tmp`, 'w');
      try {
        // A chunk at a time, each copied out of a fresh view: module memory may grow meanwhile.
        for (let offset = 0; offset < buffer.length; offset += WRITE_CHUNK) {
          await out.write(buffer.view().slice(offset, offset + WRITE_CHUNK));
        }
      } finally {
        await out.close();
      }
      await fs.rename(`${target}.tmp`, target);
      await writeIndex({ ...(await readIndex()), [url]: buffer.length });
      return { stored: Promise.resolve() };
    },
    async list() {
      return Object.entries(await readIndex()).map(([url, bytes]) => ({ url, bytes }));
    },
    async delete(url) {
      const { fs } = await modules();
      const index = await readIndex();
      if (!(url in index)) return false;
      delete index[url];
      await writeIndex(index);
      await fs.rm(await file(url), { force: true });
      return true;
    },
  };
}

/** Node's default cache directory, if this is Node with a home directory. */
function defaultDirectory(): string | undefined {
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') return undefined;
  const base = process.env.XDG_CACHE_HOME ?? (process.env.HOME && `${process.env.HOME}/.cache`);
  return base ? `${base}/onnxlet/models` : undefined;
}

/** The store for this environment, or a clear error where there is none. */
function store(): Store {
  const { directory } = env.cache;
  if (directory !== undefined) return directoryStore(directory);
  if (typeof caches !== 'undefined') return cacheApiStore();
  const fallback = defaultDirectory();
  if (fallback !== undefined) return directoryStore(fallback);
  throw new OnnxletError(
    'INVALID_ARGUMENT',
    'the model cache is not available here: there is no Cache API (browsers need a secure context, ' +
      'https or localhost); in Node, set env.cache.directory',
  );
}

/** The cached model of `url` read into the module, if there is one. @internal */
export function cachedModel(url: string, options: ReadOptions): Promise<ModelBuffer | undefined> {
  return store().get(url, options);
}

/**
 * Stores the verified model of `url`; resolves once the bytes have been taken from `buffer`, to
 * a promise that settles when they are stored.
 @internal */
export function cacheModel(url: string, buffer: ModelBuffer): Promise<{ stored: Promise<void> }> {
  return store().put(url, buffer);
}

/** Deletes what is cached for `url`. @internal */
export async function uncacheModel(url: string): Promise<void> {
  await store().delete(url);
}

/** The models stored with `cache: true`, and deleting them. */
export const modelCache = {
  /** Every cached model. */
  list(): Promise<CachedModel[]> {
    return store().list();
  },
  /** Deletes the model cached for `url`; resolves to whether there was one. */
  delete(url: string | URL): Promise<boolean> {
    return store().delete(absoluteUrl(url));
  },
  /** Deletes every cached model. */
  async clear(): Promise<void> {
    const s = store();
    for (const { url } of await s.list()) await s.delete(url);
  },
};

/** The cache key of a model source, which must be an http(s) URL. @internal */
export function cacheKey(source: unknown): string {
  let url: string | undefined;
  try {
    url = typeof source === 'string' || source instanceof URL ? absoluteUrl(source) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^https?:/.test(url)) {
    throw new OnnxletError('INVALID_ARGUMENT', 'cache: true needs the model as an http(s) URL');
  }
  return url;
}
