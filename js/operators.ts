import { callWasm, initialize, supportedOperators as wasmSupportedOperators } from './wasm.js';

/** An operator a model may use. */
export interface OperatorInfo {
  /** `ai.onnx` or `ai.onnx.ml`. */
  readonly domain: string;
  readonly name: string;
  /**
   * The lowest and highest opset at which the operator passes the ONNX backend node tests
   * (natively and in wasm; see docs/operators.md), or `null` when no node test covers it, and
   * always in the lite build (`env.wasm.build = 'lite'`).
   */
  readonly opsets: readonly [number, number] | null;
}

/**
 * Every operator the loader accepts, sorted by domain and name, listed from the same registry
 * the loader checks models against. A model using any other operator is rejected at load with
 * `UNSUPPORTED_OPERATOR`. Loads the WebAssembly module if it is not loaded yet.
 */
export async function supportedOperators(): Promise<readonly OperatorInfo[]> {
  await initialize();
  return Object.freeze(callWasm('listing the operators', () => wasmSupportedOperators()) as OperatorInfo[]);
}
