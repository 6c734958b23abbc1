// The entry point of the multi-threaded worker (`onnxlet.threads.worker.mjs`), bundled with the
// threads builds' glue (the lite engine's and tract's). It serves two roles:
// - a session's worker (as `onnxlet.worker.mjs` does), which instantiates the module of the
//   engine that runs the model and starts its thread pool: itself, and as many more workers of
//   this same script as the page asked for threads beyond the first;
// - one of those pool workers, which instantiates the same module on the same shared memory and
//   then computes whatever the engine's parallel kernels hand its thread, until the worker stops.
// The session's thread runs the model as the pool's first thread, and blocks while it waits for
// the others' shares, which only workers may do.
import * as liteGlue from '../pkg/lite-threads/onnxlet.js';
import * as tractGlue from '../pkg/threads/onnxlet.js';
import type { EngineName } from './env.js';
import { OnnxletError } from './errors.js';
import { threadPool } from './module.js';
import type { WorkerRequest } from './worker-protocol.js';
import { onSessionMessage } from './worker.js';

/** Each engine's threads glue: both export the pool's two entry points. */
const GLUES: Record<EngineName, typeof tractGlue | typeof liteGlue> = { lite: liteGlue, tract: tractGlue };

/** The message that turns a worker of this script into a pool thread. */
interface PoolRequest {
  type: 'pool';
  /** The engine whose module the pool computes for. */
  engine: EngineName;
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

threadPool.start = async (engine, module, memory, pool) => {
  const count = pool?.count ?? 1;
  const workers: Worker[] = [];
  try {
    // This thread is the pool's first.
    await Promise.all(
      Array.from({ length: count - 1 }, () => {
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
          const request: PoolRequest = { type: 'pool', engine, module, memory, crashChannel: pool?.crashChannel ?? '' };
          worker.postMessage(request);
        });
      }),
    );
    // Each worker is now blocked in `threadPoolWorker`, waiting for its rayon thread; this one
    // becomes the first.
    GLUES[engine].startThreadPool(count);
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
  const { engine, module, memory, crashChannel } = data as PoolRequest;
  const glue = GLUES[engine];
  glue.default({ module_or_path: module, memory } as Parameters<typeof glue.default>[0]).then(
    () => {
      scope.postMessage({ type: 'pool-ready' });
      try {
        glue.threadPoolWorker();
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
