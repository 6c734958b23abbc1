import { OnnxletError } from './errors.js';
import { type ModuleConfig, pathsNameOneFile } from './module-config.js';

let warned = false;

/** Why threads cannot run here, or `undefined` if they can. */
function unavailable(config: ModuleConfig): string | undefined {
  if (globalThis.crossOriginIsolated === false || typeof SharedArrayBuffer === 'undefined') {
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (typeof Worker === 'undefined') return 'this runtime has no Web Workers (Node: run on one thread)';
  if (config.given !== undefined) return 'env.wasm.wasmBinary is set (the threads need their own module)';
  if (config.build === 'full') return "env.wasm.build is 'full', which has no multi-threaded module";
  if (pathsNameOneFile(config)) {
    return 'env.wasm.wasmPaths names one .wasm file (name a directory for the multi-threaded module)';
  }
  return undefined;
}

/**
 * The number of threads a new session computes on: `env.wasm.numThreads` where threads can run,
 * else 1. Unset or 0 means `min(4, ceil(hardwareConcurrency / 2))` in a cross-origin-isolated
 * page (as in onnxruntime-web) and 1 elsewhere.
 */
export function sessionThreads(config: ModuleConfig): number {
  const requested = config.numThreads;
  if (requested !== undefined && (typeof requested !== 'number' || !Number.isSafeInteger(requested) || requested < 0)) {
    throw new OnnxletError(
      'INVALID_ARGUMENT',
      `env.wasm.numThreads must be a non-negative integer, got ${typeof requested === 'string' ? JSON.stringify(requested) : String(requested)}`,
    );
  }
  const reason = unavailable(config);
  if (!requested) {
    if (reason !== undefined || globalThis.crossOriginIsolated !== true) return 1;
    const cores = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency || 1;
    return Math.min(4, Math.ceil(cores / 2));
  }
  if (requested > 1 && reason !== undefined) {
    if (!warned) console.warn(`onnxlet: env.wasm.numThreads is ${requested}, but ${reason}: running on 1 thread`);
    warned = true;
    return 1;
  }
  return requested;
}
