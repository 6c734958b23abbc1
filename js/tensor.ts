import { OnnxletError } from './errors.js';

/** Element types, named as in onnxruntime-web. */
export type TensorType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string';

/** The element types held in typed arrays: every type but `string`. */
export type NumericTensorType = Exclude<TensorType, 'string'>;

/**
 * The array holding each element type: a typed array (float16 as raw bits in a `Uint16Array`, bool
 * as 0/1 bytes), or for `string` a plain array of strings.
 */
export interface TensorDataTypeMap {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  string: string[];
}

/** Plain JS arrays accepted by the constructor and converted to the type's typed array. */
export interface TensorArrayTypeMap {
  float32: readonly number[];
  float64: readonly number[];
  float16: readonly number[];
  int8: readonly number[];
  uint8: readonly number[];
  int16: readonly number[];
  uint16: readonly number[];
  int32: readonly number[];
  uint32: readonly number[];
  int64: readonly (bigint | number)[];
  uint64: readonly (bigint | number)[];
  bool: readonly (boolean | number)[];
  string: readonly string[];
}

export type TensorData = TensorDataTypeMap[TensorType];

type TypedArray = TensorDataTypeMap[NumericTensorType];

type TypedArrayConstructor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

const ARRAY_TYPES: Record<NumericTensorType, TypedArrayConstructor> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
} as unknown as Record<NumericTensorType, TypedArrayConstructor>;

/** Every supported element type. */
export const TENSOR_TYPES: readonly TensorType[] = Object.freeze([...(Object.keys(ARRAY_TYPES) as NumericTensorType[]), 'string']);

export function isTensorType(value: unknown): value is TensorType {
  return typeof value === 'string' && TENSOR_TYPES.includes(value as TensorType);
}

/** Whether `data` is the array that holds `type`'s elements (for strings: any array). */
export function holdsType(type: TensorType, data: unknown): boolean {
  return type === 'string' ? Array.isArray(data) : data instanceof ARRAY_TYPES[type];
}

const isStringArray = (data: unknown): data is string[] =>
  Array.isArray(data) && data.every((v) => typeof v === 'string');

function typeOfArray(data: unknown): TensorType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  if (Array.isArray(data) && data.length > 0 && isStringArray(data)) return 'string';
  return undefined;
}

function checkDims(dims: unknown): readonly number[] {
  if (!Array.isArray(dims)) {
    throw new OnnxletError('INVALID_ARGUMENT', `tensor dims must be an array of integers, got ${describe(dims)}`);
  }
  for (const [axis, d] of dims.entries()) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new OnnxletError(
        'INVALID_ARGUMENT',
        `tensor dims must be non-negative integers, got ${describe(d)} at axis ${axis}`,
      );
    }
  }
  return Object.freeze([...dims] as number[]);
}

function toTypedArray(type: NumericTensorType, data: readonly unknown[]): TypedArray {
  const Ctor = ARRAY_TYPES[type];
  const out = new Ctor(data.length);
  if (type === 'int64' || type === 'uint64') {
    const big = out as BigInt64Array | BigUint64Array;
    data.forEach((v, i) => (big[i] = BigInt(v as bigint | number)));
  } else if (type === 'bool') {
    data.forEach((v, i) => ((out as Uint8Array)[i] = v ? 1 : 0));
  } else {
    (out as Float32Array).set(data as number[]);
  }
  return out;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  if (typeof value === 'string') return JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}

/**
 * An n-dimensional array of one element type, as in onnxruntime-web.
 *
 * ```ts
 * const t = new Tensor('float32', new Float32Array([1, 2, 3, 4]), [2, 2]);
 * const u = new Tensor(new Int32Array([1, 2, 3]));        // type inferred, dims [3]
 * const s = new Tensor('string', ['a', 'b'], [2]);        // strings: a plain array
 * ```
 */
export class Tensor<T extends TensorType = TensorType> {
  /** The element type. */
  readonly type: T;
  /** The shape. */
  readonly dims: readonly number[];
  /** The number of elements: the product of `dims`. */
  readonly size: number;
  #data: TensorDataTypeMap[T] | undefined;

  /** Creates a tensor of `type` from a typed array (kept, not copied) or a plain array (converted). */
  constructor(type: T, data: TensorDataTypeMap[T] | TensorArrayTypeMap[T], dims?: readonly number[]);
  /** Creates a tensor whose type is inferred from the typed array (or a non-empty array of strings). */
  constructor(data: TensorDataTypeMap[T], dims?: readonly number[]);
  constructor(a: unknown, b?: unknown, c?: unknown) {
    let type: TensorType;
    let data: unknown;
    let dims: unknown;
    if (typeof a === 'string') {
      if (!isTensorType(a)) {
        throw new OnnxletError('INVALID_ARGUMENT', `unknown tensor type ${JSON.stringify(a)} (expected one of ${TENSOR_TYPES.join(', ')})`);
      }
      [type, data, dims] = [a, b, c];
    } else {
      const inferred = typeOfArray(a);
      if (!inferred) {
        throw new OnnxletError(
          'INVALID_ARGUMENT',
          `cannot infer a tensor type from ${describe(a)}; pass the type first, e.g. new Tensor('float32', data, dims)`,
        );
      }
      [type, data, dims] = [inferred, a, b];
    }
    let typed: TensorData;
    if (type === 'string') {
      if (!isStringArray(data)) {
        const bad = Array.isArray(data) ? data.findIndex((v) => typeof v !== 'string') : -1;
        throw new OnnxletError(
          'INVALID_ARGUMENT',
          bad >= 0
            ? `a string tensor needs an array of strings, got ${describe((data as unknown[])[bad])} at index ${bad}`
            : `a string tensor needs an array of strings, got ${describe(data)}`,
        );
      }
      typed = data;
    } else if (Array.isArray(data)) {
      typed = toTypedArray(type, data);
    } else if (data instanceof ARRAY_TYPES[type]) {
      typed = data as TensorData;
    } else {
      throw new OnnxletError(
        'INVALID_ARGUMENT',
        `a ${type} tensor needs its data as ${ARRAY_TYPES[type].name} or a plain array, got ${describe(data)}`,
      );
    }
    const shape = dims === undefined ? [typed.length] : checkDims(dims);
    const size = shape.reduce((n, d) => n * d, 1);
    if (size !== typed.length) {
      throw new OnnxletError(
        'INVALID_ARGUMENT',
        `tensor dims [${shape.join(', ')}] hold ${size} elements, but the data has ${typed.length}`,
      );
    }
    this.type = type as T;
    this.dims = Object.freeze([...shape]);
    this.size = size;
    this.#data = typed as TensorDataTypeMap[T];
  }

  /** The elements, in row-major order. Throws `RELEASED` after {@link Tensor.dispose}. */
  get data(): TensorDataTypeMap[T] {
    if (this.#data === undefined) {
      throw new OnnxletError('RELEASED', `this ${this.type} tensor of dims [${this.dims.join(', ')}] has been disposed`);
    }
    return this.#data;
  }

  /** The elements; resolves at once (CPU tensors). With `releaseData`, the tensor is disposed afterwards. */
  async getData(releaseData = false): Promise<TensorDataTypeMap[T]> {
    const data = this.data;
    if (releaseData) this.dispose();
    return data;
  }

  /** Drops the reference to the data. Further access throws `RELEASED`. */
  dispose(): void {
    this.#data = undefined;
  }

  /** Whether {@link Tensor.dispose} was called. */
  get disposed(): boolean {
    return this.#data === undefined;
  }

  /**
   * @internal Wraps output bytes from the module: typed arrays without copying when aligned,
   * strings decoded from the wire format of {@link tensorBytes}.
   */
  static fromBytes(type: TensorType, dims: readonly number[], bytes: Uint8Array): Tensor {
    if (type === 'string') return new Tensor('string', decodeStrings(bytes), dims);
    const Ctor = ARRAY_TYPES[type];
    const width = Ctor.BYTES_PER_ELEMENT;
    const aligned = bytes.byteOffset % width === 0 ? bytes : bytes.slice();
    return new Tensor(type, new Ctor(aligned.buffer, aligned.byteOffset, aligned.byteLength / width), dims);
  }
}

/**
 * The bytes that cross into the module: a typed array's own bytes (not copied), or for strings
 * each element's UTF-8 byte length (u32, little-endian) followed by its bytes.
 */
export function tensorBytes(type: TensorType, data: TensorData): Uint8Array {
  if (type !== 'string') {
    const typed = data as TypedArray;
    return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  }
  const strings = data as string[];
  const encoder = new TextEncoder();
  const encoded = strings.map((s, i) => {
    if (typeof s !== 'string') {
      throw new OnnxletError('INVALID_INPUT', `a string tensor holds ${describe(s)} at index ${i}`);
    }
    return encoder.encode(s);
  });
  const out = new Uint8Array(encoded.reduce((n, e) => n + 4 + e.length, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const e of encoded) {
    view.setUint32(offset, e.length, true);
    out.set(e, offset + 4);
    offset += 4 + e.length;
  }
  return out;
}

function decodeStrings(bytes: Uint8Array): string[] {
  const decoder = new TextDecoder();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const length = view.getUint32(offset, true);
    out.push(decoder.decode(bytes.subarray(offset + 4, offset + 4 + length)));
    offset += 4 + length;
  }
  return out;
}
