/**
 * onnxlet: run ONNX models wherever WebAssembly runs, with onnxruntime-web's API.
 *
 * @packageDocumentation
 */
export { InferenceSession } from './inference-session.js';
export { Tensor, TENSOR_TYPES } from './tensor.js';
export type { TensorType, TensorData, TensorDataTypeMap, TensorArrayTypeMap } from './tensor.js';
export { OnnxletError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { env } from './env.js';
export { modelCache } from './cache.js';
export type { CachedModel } from './cache.js';
export type { Env, EngineName, WasmCode } from './env.js';
export type { ModelSource, ProgressEvent } from './source.js';
export { supportedOperators } from './operators.js';
export { memoryUsage } from './memory.js';
export type { MemoryUsage } from './memory.js';
export type { OperatorInfo } from './operators.js';
