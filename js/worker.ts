// The entry point of the dedicated worker behind `InferenceSession.create(src, { worker: true })`:
// one session per worker, driven by messages (see worker-protocol.ts).
import { type Backend, localBackend } from './backend.js';
import { OnnxletError } from './errors.js';
import { receivedConfig } from './module-config.js';
import { tract } from './wasm.js';
import { type WorkerReply, type WorkerRequest, buffersOf, toWireError } from './worker-protocol.js';

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
const aborts = new Map<number, AbortController>();
let backend: Backend | undefined;

async function handle(request: WorkerRequest): Promise<void> {
  const { id } = request;
  switch (request.type) {
    case 'create': {
      const controller = new AbortController();
      aborts.set(id, controller);
      try {
        const onProgress = (event: Parameters<NonNullable<Parameters<typeof localBackend>[1]['onProgress']>>[0]) =>
          scope.postMessage({ id, type: 'progress', event });
        const { source } = request;
        const model = typeof source === 'object' && 'body' in source ? new Response(source.body, { headers: source.headers }) : source;
        backend = await localBackend(model, { ...request.options, onProgress, signal: controller.signal }, receivedConfig(request.config));
        const { engine, inputs, outputs } = backend;
        scope.postMessage({ id, type: 'created', engine, inputs: [...inputs], outputs: [...outputs] });
      } finally {
        aborts.delete(id);
      }
      return;
    }
    case 'abort':
      aborts.get(id)?.abort();
      return;
    case 'run': {
      if (!backend) throw new OnnxletError('RELEASED', 'this session has been released');
      const outputs = await backend.run(request.feeds, request.fetches);
      // Outputs are fresh copies out of the module: hand their buffers over.
      scope.postMessage({ id, type: 'ran', outputs }, buffersOf(outputs));
      return;
    }
    case 'crash':
      if (!backend) throw new OnnxletError('RELEASED', 'this session has been released');
      await backend.crash();
      return;
    case 'release':
      await backend?.release();
      backend = undefined;
      scope.postMessage({ id, type: 'released' });
      return;
  }
}

/** Answers one request of the page's (also the multi-threaded worker's session requests). */
export function onSessionMessage({ data }: MessageEvent<WorkerRequest>): void {
  handle(data).catch((error: unknown) =>
    // `fatal`: the multi-threaded module crashed, and the page stops this worker.
    scope.postMessage({ id: data.id, type: 'error', error: toWireError(error), fatal: tract.dead }),
  );
}

scope.onmessage = onSessionMessage;
