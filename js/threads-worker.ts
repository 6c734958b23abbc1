// The entry point of the multi-threaded worker (`onnxlet.threads.worker.mjs`), bundled with the
// threads build's glue. It serves two roles:
// - a session's worker (as `onnxlet.worker.mjs` does), which instantiates the module and starts
//   the thread pool: as many more workers of this same script as the page asked for;
// - one of those pool workers, which instantiates the same module on the same shared memory and
//   then computes whatever tract's parallel kernels hand its thread, until the worker stops.
// The session's thread blocks while the pool computes, which only workers may do.
import init, { startThreadPool, threadPoolWorker } from '../pkg/threads/onnxlet.js';
import { OnnxletError } from './errors.js';
import { threadPool } from './module.js';
import type { WorkerRequest } from './worker-protocol.js';
import { onSessionMessage } from './worker.js';

/** The message that turns a worker of this script into a pool thread. */
interface PoolRequest {
  type: 'pool';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** A `BroadcastChannel` on which the page listens for a crashed thread. */
  crashChannel: string;
}

interface Scope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as Scope;

threadPool.start = async (module, memory, pool) => {
  const count = pool?.count ?? 1;
  const workers: Worker[] = [];
  try {
    await Promise.all(
      Array.from({ length: count }, () => {
        const worker = new Worker(new URL(import.meta.url), { type: 'module' });
        workers.push(worker);
        return new Promise<void>((resolve, reject) => {
          worker.onmessage = ({ data }: MessageEvent<{ type: string; message?: string }>) => {
            if (data.type === 'pool-ready') resolve();
            else reject(new OnnxletError('WASM_LOAD_FAILED', `a thread of the pool failed to start: ${data.message}`));
          };
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new OnnxletError('WASM_LOAD_FAILED', `a thread of the pool failed to start: ${event.message}`));
          };
          worker.postMessage({ type: 'pool', module, memory, crashChannel: pool?.crashChannel ?? '' } satisfies PoolRequest);
        });
      }),
    );
    // Each worker is now blocked in `threadPoolWorker`, waiting for its rayon thread.
    startThreadPool(count);
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw error;
  }
};

scope.onmessage = (event: MessageEvent<PoolRequest | WorkerRequest>) => {
  const { data } = event;
  if (data.type !== 'pool') {
    onSessionMessage(event as MessageEvent<WorkerRequest>);
    return;
  }
  const { module, memory, crashChannel } = data as PoolRequest;
  init({ module_or_path: module, memory } as Parameters<typeof init>[0]).then(
    () => {
      scope.postMessage({ type: 'pool-ready' });
      try {
        threadPoolWorker();
      } catch (error) {
        // A panic or trap on this thread: the session's thread waits for it forever, so tell
        // the page, which stops the session's worker (and with it this one).
        const channel = new BroadcastChannel(crashChannel);
        channel.postMessage(`${(error as Error).message ?? error}`);
        channel.close();
      }
    },
    (error: unknown) => scope.postMessage({ type: 'pool-failed', message: String(error) }),
  );
};
