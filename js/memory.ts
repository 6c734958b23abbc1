import { instantiatedModules } from './wasm.js';

/**
 * How much memory this thread's onnxlet modules use, summed over their instances: every session
 * has a WebAssembly instance of its own (a session created with `worker: true` lives in its
 * worker, not counted here). A released session's instance leaves the sums at once, and the
 * garbage collector returns its memory to the system. All zero until a module is first used.
 */
export interface MemoryUsage {
  /** Bytes allocated on the modules' heaps now: models, plans, buffers. */
  readonly heapBytes: number;
  /**
   * The most bytes allocated at once since each instance started or the peak was last reset,
   * summed over the instances alive.
   */
  readonly peakHeapBytes: number;
  /**
   * The size of the instances' linear memories. A WebAssembly memory never shrinks: heap bytes
   * a session frees are reused by its later allocations, and the whole memory is returned when
   * the session is released.
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
