import type { WireMetadata, WireValue } from './backend.js';
import type { CreateOptions } from './create-options.js';
import type { EngineName } from './env.js';
import { OnnxletError, isErrorCode } from './errors.js';
import type { SentConfig } from './module-config.js';
import type { ProgressEvent } from './source.js';

/** A model source as the page hands it to the worker. */
export type WorkerSource =
  | string
  | ArrayBuffer
  | Blob
  | { body: ReadableStream<Uint8Array>; headers: [string, string][]; url: string };

/** What the page sends the onnxlet worker. */
export type WorkerRequest =
  | {
      id: number;
      type: 'create';
      source: WorkerSource;
      options: Omit<CreateOptions, 'onProgress' | 'signal'>;
      /** The page's module configuration (with, for the multi-threaded worker, its pool). */
      config: SentConfig;
    }
  | { id: number; type: 'abort' }
  | { id: number; type: 'run'; feeds: WireValue[]; fetches: string[] | undefined }
  | { id: number; type: 'release' }
  /** The tests of what a crash does: trap the session's instance (InferenceSession's crash hook). */
  | { id: number; type: 'crash' };

/** An error as it crosses the worker boundary. */
export interface WireError {
  name: string;
  code?: string;
  message: string;
}

/** What the onnxlet worker answers, by request id. */
export type WorkerReply =
  | { id: number; type: 'progress'; event: ProgressEvent }
  | { id: number; type: 'created'; engine: EngineName; inputs: WireMetadata[]; outputs: WireMetadata[] }
  | { id: number; type: 'ran'; outputs: WireValue[] }
  | { id: number; type: 'released' }
  | { id: number; type: 'error'; error: WireError; fatal?: boolean };

export function toWireError(error: unknown): WireError {
  if (error instanceof OnnxletError) return { name: error.name, code: error.code, message: error.message };
  if (error instanceof Error || error instanceof DOMException) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

export function fromWireError(error: WireError): Error {
  if (isErrorCode(error.code)) return new OnnxletError(error.code, error.message);
  if (error.name === 'AbortError') return new DOMException(error.message, 'AbortError');
  return new Error(error.message);
}

/** The buffers of `values`, to transfer rather than copy. */
export function buffersOf(values: WireValue[]): ArrayBuffer[] {
  return values.map((v) => v.data.buffer as ArrayBuffer);
}
