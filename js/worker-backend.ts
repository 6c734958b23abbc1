import type { Backend, WireValue } from './backend.js';
import type { CreateOptions } from './create-options.js';
import { OnnxletError } from './errors.js';
import { fileUrl } from './local-file.js';
import { type ModelSource, abortError, absoluteUrl, isLocalPath } from './source.js';
import { SCRIPT_TAG } from './flags.js';
import { type ModuleConfig, scriptSrc, sentConfig } from './module-config.js';
import { type WorkerReply, type WorkerRequest, type WorkerSource, buffersOf, fromWireError } from './worker-protocol.js';

/** Distributive Omit, so each request variant keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** The session's worker: `onnxlet.worker.mjs`, or `onnxlet.threads.worker.mjs` for more than one thread. */
function startWorker(threads: number): Worker {
  const file = threads > 1 ? 'onnxlet.threads.worker.mjs' : 'onnxlet.worker.mjs';
  if (SCRIPT_TAG) {
    if (!scriptSrc) throw new OnnxletError('WASM_LOAD_FAILED', `cannot locate ${file}: load onnxlet with <script src>`);
    return new Worker(new URL(file, scriptSrc), { type: 'module' });
  }
  // Literals, which bundlers recognise and bundle as workers.
  if (threads > 1) return new Worker(new URL('./onnxlet.threads.worker.mjs', import.meta.url), { type: 'module' });
  return new Worker(new URL('./onnxlet.worker.mjs', import.meta.url), { type: 'module' });
}

/**
 * The source as the worker can receive it: a URL string, a Blob, a stream (transferred, with the
 * response's headers for its size), or a copy of the bytes (transferred).
 */
async function workerSource(source: ModelSource): Promise<WorkerSource> {
  if (typeof source === 'string' && isLocalPath(source)) return fileUrl(source);
  if (typeof source === 'string' || source instanceof URL) return absoluteUrl(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const view = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return view.slice().buffer;
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) {
      throw new OnnxletError('FETCH_FAILED', `could not fetch model ${source.url}: HTTP ${source.status} ${source.statusText}`);
    }
    const headers: [string, string][] = [];
    source.headers.forEach((value, name) => /^content-(length|encoding)$/i.test(name) && headers.push([name, value]));
    return { body: source.body ?? new Blob([]).stream(), headers, url: source.url };
  }
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) return { body: source, headers: [], url: '' };
  throw new OnnxletError('INVALID_ARGUMENT', `InferenceSession.create cannot send ${String(source)} to a worker`);
}

/**
 * Loads a model into a dedicated worker; inputs are copied to it and outputs transferred back.
 * The worker loads the modules `config` names; with `threads` above 1, it is the multi-threaded
 * worker, with a pool of `threads` more.
 */
export async function workerBackend(
  source: ModelSource,
  options: CreateOptions,
  config: ModuleConfig,
  threads = 1,
): Promise<Backend> {
  const { onProgress, signal, ...rest } = options;
  if (typeof Worker === 'undefined') {
    throw new OnnxletError(
      'INVALID_ARGUMENT',
      'worker: true needs Web Workers (browsers, Deno); in Node, run onnxlet inside a worker_threads Worker',
    );
  }
  if (signal?.aborted) throw abortError(signal);
  const payload = await workerSource(source);
  const worker = startWorker(threads);
  const pending = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (error: unknown) => void }>();
  let nextId = 0;
  let released = false;
  // A crash of the multi-threaded module ends the worker (its memory cannot be reset under the
  // pool's threads); the session is then released, and new sessions start a new worker.
  const crashChannel = threads > 1 ? `onnxlet-crash-${Math.random().toString(36).slice(2)}` : undefined;
  const crashes = crashChannel === undefined ? undefined : new BroadcastChannel(crashChannel);
  const stop = (error?: OnnxletError) => {
    released = true;
    crashes?.close();
    worker.terminate();
    for (const call of pending.values()) call.reject(error ?? new OnnxletError('RELEASED', 'this session has been released'));
    pending.clear();
  };
  if (crashes !== undefined) {
    crashes.onmessage = ({ data }: MessageEvent<string>) =>
      stop(
        new OnnxletError(
          'RUNTIME_ERROR',
          `a thread of the session's pool crashed (${data}); the session's worker has stopped and the session is released`,
        ),
      );
  }
  worker.onmessage = ({ data }: MessageEvent<WorkerReply>) => {
    if (data.type === 'progress') {
      try {
        onProgress?.(data.event);
      } catch (error) {
        // The caller's callback failed: creation fails with its error, and the worker stops.
        pending.get(create.id)?.reject(error);
        pending.delete(create.id);
        stop();
      }
      return;
    }
    const call = pending.get(data.id);
    pending.delete(data.id);
    if (data.type === 'error') {
      call?.reject(fromWireError(data.error));
      if (data.fatal) stop();
    } else call?.resolve(data);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    for (const call of pending.values()) {
      call.reject(new OnnxletError('WASM_LOAD_FAILED', `the onnxlet worker failed: ${event.message ?? 'could not start it'}`));
    }
    pending.clear();
  };
  const call = (request: WithoutId<WorkerRequest>, transfer: Transferable[] = []) => {
    const id = nextId++;
    const reply = new Promise<WorkerReply>((resolve, reject) => pending.set(id, { resolve, reject }));
    try {
      worker.postMessage({ ...request, id } as WorkerRequest, transfer);
    } catch (error) {
      pending.delete(id);
      throw error;
    }
    return { id, reply };
  };

  const sent = sentConfig(config, crashChannel === undefined ? undefined : { count: threads, crashChannel });
  let create: ReturnType<typeof call>;
  try {
    const transfer = payload instanceof ArrayBuffer ? [payload] : typeof payload === 'object' && 'body' in payload ? [payload.body] : [];
    create = call({ type: 'create', source: payload, options: rest, config: sent }, transfer);
  } catch (error) {
    if (!(typeof payload === 'object' && 'body' in payload)) throw error;
    // No transferable streams here: the browser buffers the body as a Blob (not in the JS heap).
    const blob = await new Response(payload.body).blob();
    create = call({ type: 'create', source: blob, options: rest, config: sent });
  }
  const onAbort = () => {
    worker.postMessage({ id: create.id, type: 'abort' } satisfies WorkerRequest);
    pending.get(create.id)?.reject(abortError(signal as AbortSignal));
    pending.delete(create.id);
    stop();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  let created: WorkerReply;
  try {
    created = await create.reply;
  } catch (error) {
    stop();
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (created.type !== 'created') throw new OnnxletError('RUNTIME_ERROR', `unexpected worker reply ${created.type}`);

  return {
    engine: created.engine,
    inputs: created.inputs,
    outputs: created.outputs,
    async run(feeds: WireValue[], fetches: string[] | undefined) {
      if (released) throw new OnnxletError('RELEASED', 'this session has been released');
      // Copies, so the caller's tensors stay usable; the copies are transferred.
      const copies = feeds.map((f) => ({ ...f, data: f.data.slice() }));
      const reply = await call({ type: 'run', feeds: copies, fetches }, buffersOf(copies)).reply;
      if (reply.type !== 'ran') throw new OnnxletError('RUNTIME_ERROR', `unexpected worker reply ${reply.type}`);
      return reply.outputs;
    },
    async crash() {
      if (released) throw new OnnxletError('RELEASED', 'this session has been released');
      await call({ type: 'crash' }).reply;
    },
    async release() {
      if (released) return;
      await call({ type: 'release' }).reply.catch(() => {});
      stop();
    },
  };
}
