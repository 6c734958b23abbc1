import { instantiatedModules } from './wasm.js';

/**
 * How much memory this thread's onnxlet modules use, summed over the lite and the tract module
 * when both are loaded (a session created with `worker: true` lives in its worker's modules, not
 * counted here). All zero until a module is first used.
 */
export interface MemoryUsage {
  /** Bytes allocated on the modules' heaps now: models, plans, buffers. */
  readonly heapBytes: number;
  /**
   * The most bytes allocated at once since the modules started or the peak was last reset,
   * summed over the modules.
   */
  readonly peakHeapBytes: number;
  /**
   * The size of the modules' linear memories. WebAssembly memory never shrinks: freed heap
   * bytes are reused by later allocations but not returned to the system.
   */
  readonly memoryBytes: number;
}

/** The memory use of this thread's modules; `resetPeak` restarts `peakHeapBytes` from now. */
export function memoryUsage(options: { resetPeak?: boolean } = {}): MemoryUsage {
  let heapBytes = 0;
  let peakHeapBytes = 0;
  let memoryBytes = 0;
  for (const module of instantiatedModules()) {
    const usage = module.glue.memoryUsage(options.resetPeak === true);
    heapBytes += usage.heapAllocated;
    peakHeapBytes += usage.heapPeak;
    memoryBytes += usage.memoryBytes;
  }
  return { heapBytes, peakHeapBytes, memoryBytes };
}
