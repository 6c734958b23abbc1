import type { ProgressEvent } from './source.js';

/** The options of `InferenceSession.create`, as a backend takes them (documented there). */
export interface CreateOptions {
  freeDimensionOverrides?: Readonly<Record<string, number>>;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  integrity?: string;
  headers?: HeadersInit;
  cache?: boolean;
}
