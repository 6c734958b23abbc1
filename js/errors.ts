/** Every {@link ErrorCode}: the one list the type and {@link isErrorCode} derive from. */
export const ERROR_CODES = [
  'INVALID_MODEL',
  'UNSUPPORTED_OPERATOR',
  'INVALID_INPUT',
  'INVALID_ARGUMENT',
  'RUNTIME_ERROR',
  'RESOURCE_LIMIT',
  'RELEASED',
  'FETCH_FAILED',
  'INTEGRITY_MISMATCH',
  'WASM_LOAD_FAILED',
] as const;

/**
 * Stable error codes carried by every {@link OnnxletError}.
 *
 * - `INVALID_MODEL`: the bytes are not a readable ONNX model, or its graph is inconsistent.
 * - `UNSUPPORTED_OPERATOR`: the model uses an operator onnxlet does not implement (named in the message).
 * - `INVALID_INPUT`: a feed is unknown, missing, or has the wrong type or shape.
 * - `INVALID_ARGUMENT`: an argument or option is malformed.
 * - `RUNTIME_ERROR`: the model failed while computing, or the session's WebAssembly module crashed.
 * - `RESOURCE_LIMIT`: computing would take the module's memory over the session's `maxMemoryBytes`.
 * - `RELEASED`: the session or tensor was released/disposed (or lost when its module crashed).
 * - `FETCH_FAILED`: the model or the wasm file could not be fetched or read.
 * - `INTEGRITY_MISMATCH`: the model's bytes do not match the `integrity` option.
 * - `WASM_LOAD_FAILED`: the WebAssembly module could not be compiled or instantiated.
 *
 * The first six are made in Rust (`ErrorCode` in src/error.rs, whose unit test checks they are here).
 */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Whether `code` is one of {@link ERROR_CODES}. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(code);
}

/** The one error class thrown by onnxlet. Switch on {@link OnnxletError.code}, not on the message. */
export class OnnxletError extends Error {
  /** A stable, machine-readable code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OnnxletError';
    this.code = code;
  }
}

/**
 * Converts an error thrown by the WebAssembly module into an {@link OnnxletError}.
 * Rust errors arrive as JS `Error`s with a `code` property; anything else is unexpected.
 */
export function fromWasmError(error: unknown): OnnxletError {
  if (error instanceof OnnxletError) return error;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (isErrorCode(code)) return new OnnxletError(code, error.message);
    return new OnnxletError('RUNTIME_ERROR', error.message, { cause: error });
  }
  return new OnnxletError('RUNTIME_ERROR', String(error), { cause: error });
}
