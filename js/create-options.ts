import type { ProgressEvent } from './source.js';

/** The options of `InferenceSession.create` that every backend takes. */
export interface CreateOptions {
  /**
   * Pins symbolic dimensions at load time, e.g. `{ N: 1 }`: the model is optimised for that
   * size, and inputs must then have it. Unpinned symbolic dimensions stay free and can change
   * from one `run` to the next.
   */
  freeDimensionOverrides?: Readonly<Record<string, number>>;
  /**
   * The most heap, in bytes, the WebAssembly module may have in use while this session runs
   * (the heap of every session on the module counts). A tensor that would take it further is
   * refused before it is allocated: the run rejects with `RESOURCE_LIMIT`, naming the node, the
   * tensor's shape and size, and the budget. Default: 2 GiB (2147483648), half of what the
   * module's memory can address, which leaves room for the allocator's free blocks.
   */
  maxMemoryBytes?: number;
  /**
   * Called as the model loads: `download` events at least every 1% or 100 ms while its bytes
   * arrive, then `compile`, then `ready`.
   */
  onProgress?: (event: ProgressEvent) => void;
  /** Cancels the download and the session creation; `create` then rejects with an `AbortError`. */
  signal?: AbortSignal;
  /**
   * A Subresource Integrity value (`sha256-<base64>`) the model's bytes must match before they
   * are parsed; a mismatch rejects with `INTEGRITY_MISMATCH`.
   */
  integrity?: string;
  /** Extra request headers when the model is fetched from a URL. */
  headers?: HeadersInit;
  /**
   * Keeps the model (an http(s) URL) once it has loaded and passed `integrity`: in the Cache
   * API in browsers and workers, in a directory in Node (`env.cache.directory`). The next
   * `create` of the same URL makes no request. See `modelCache` to list and delete entries.
   */
  cache?: boolean;
}
