import { isInstantiated, memoryUsage as wasmMemoryUsage } from './wasm.js';

/**
 * How much memory this thread's onnxlet module uses (a session created with `worker: true` lives
 * in its worker's module, not counted here). All zero until the module is first used.
 */
export interface MemoryUsage {
  /** Bytes allocated on the module's heap now: models, plans, buffers. */
  readonly heapBytes: number;
  /** The most bytes allocated at once since the module started or the peak was last reset. */
  readonly peakHeapBytes: number;
  /**
   * The size of the module's linear memory. WebAssembly memory never shrinks: freed heap bytes
   * are reused by later allocations but not returned to the system.
   */
  readonly memoryBytes: number;
}

/** The memory use of this thread's module; `resetPeak` restarts `peakHeapBytes` from now. */
export function memoryUsage(options: { resetPeak?: boolean } = {}): MemoryUsage {
  if (!isInstantiated()) return { heapBytes: 0, peakHeapBytes: 0, memoryBytes: 0 };
  const usage = wasmMemoryUsage(options.resetPeak === true) as { heapAllocated: number; heapPeak: number; memoryBytes: number };
  return { heapBytes: usage.heapAllocated, peakHeapBytes: usage.heapPeak, memoryBytes: usage.memoryBytes };
}
