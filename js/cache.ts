import { env } from './env.js';
import { OnnxletError } from './errors.js';
import { absoluteUrl } from './source.js';

/** A model stored by `InferenceSession.create(url, { cache: true })`. */
export interface CachedModel {
  readonly url: string;
  readonly bytes: number;
}

/** The Cache API bucket that holds models in browsers and workers. */
const CACHE_NAME = 'onnxlet-models-v1';

interface Store {
  get(url: string): Promise<Uint8Array | undefined>;
  put(url: string, bytes: Uint8Array): Promise<void>;
  list(): Promise<CachedModel[]>;
  delete(url: string): Promise<boolean>;
}

/** The Cache API (browsers, workers, Deno), keyed by URL. */
function cacheApiStore(): Store {
  const open = () => caches.open(CACHE_NAME);
  return {
    async get(url) {
      const response = await (await open()).match(url);
      return response ? new Uint8Array(await response.arrayBuffer()) : undefined;
    },
    async put(url, bytes) {
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) };
      await (await open()).put(url, new Response(bytes.slice(), { headers }));
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
    async get(url) {
      const { fs } = await modules();
      if (!((await readIndex())[url] >= 0)) return undefined;
      try {
        return await fs.readFile(await file(url));
      } catch {
        return undefined;
      }
    },
    async put(url, bytes) {
      const { fs } = await modules();
      await fs.mkdir(directory, { recursive: true });
      const target = await file(url);
      await fs.writeFile(`${target}.tmp`, bytes);
      await fs.rename(`${target}.tmp`, target);
      await writeIndex({ ...(await readIndex()), [url]: bytes.length });
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

/** The cached bytes of `url`, if any. */
export function cachedModel(url: string): Promise<Uint8Array | undefined> {
  return store().get(url);
}

/** Stores the verified bytes of `url`. */
export function cacheModel(url: string, bytes: Uint8Array): Promise<void> {
  return store().put(url, bytes);
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

/** The cache key of a model source, which must be an http(s) URL. */
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
