// A minimal ONNX protobuf writer, for models made of one node of any operator (to check what
// the loader says about operators it lacks without a fixture file per operator).

const encoder = new TextEncoder();

function varint(n) {
  const bytes = [];
  while (n > 127) {
    bytes.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return bytes;
}

const field = (number, type, payload) => [...varint(number * 8 + type), ...payload];
const int = (number, value) => field(number, 0, varint(value));
const bytes = (number, payload) => field(number, 2, [...varint(payload.length), ...payload]);
const string = (number, text) => bytes(number, encoder.encode(text));

/**
 * An ONNX model (IR version 8) whose graph is the single node `op_type(x) -> y` named `node`,
 * with `opset` imported for `domain` ('' is the default domain, which is always imported).
 */
export function singleNodeModel(opType, { domain = '', opset = 17 } = {}) {
  const node = [...string(1, 'x'), ...string(2, 'y'), ...string(3, 'node'), ...string(4, opType), ...string(7, domain)];
  const graph = [...bytes(1, node), ...string(2, opType), ...bytes(11, string(1, 'x')), ...bytes(12, string(1, 'y'))];
  const opsets = [...new Set(['', domain])].map((d) => bytes(8, [...string(1, d), ...int(2, d === domain ? opset : 17)]));
  return new Uint8Array([...int(1, 8), ...opsets.flat(), ...bytes(7, graph)]);
}

// ---------------------------------------------------------------------------------------------
// Graphs of several nodes, with typed inputs, initializers (int64 raw data) and attributes:
// enough for the hostile models of tests/support/hostile-models.mjs.

/** A varint of any int64 (negative ones as their 10-byte two's complement), from a BigInt. */
function varint64(value) {
  let n = BigInt.asUintN(64, BigInt(value));
  const out = [];
  while (n > 127n) {
    out.push(Number(n & 127n) | 128);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}

const int64 = (number, value) => field(number, 0, varint64(value));
const float32 = (number, value) => field(number, 5, [...new Uint8Array(Float32Array.of(value).buffer)]);

/** ONNX TensorProto.DataType of the element types used here. */
export const ELEM = { float32: 1, int32: 6, int64: 7, bool: 9 };

/** A TensorProto `name` of `type` ('float32', 'int32' or 'int64'), `dims`, and raw little-endian `values`. */
export function tensorProto(name, type, dims, values) {
  const Array = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array }[type];
  const data = type === 'int64' ? Array.from(values, BigInt) : Array.from(values);
  return [
    ...dims.flatMap((d) => int64(1, d)),
    ...int(2, ELEM[type]),
    ...string(8, name),
    ...bytes(9, [...new Uint8Array(data.buffer)]),
  ];
}

/**
 * An attribute from a JS value: a number or BigInt (INT), an array of them (INTS), a string
 * (STRING), `{ float }` (FLOAT), `{ tensor: [type, dims, values] }` (TENSOR).
 */
function attribute(name, value) {
  const head = string(1, name);
  if (typeof value === 'number' || typeof value === 'bigint') return [...head, ...int64(3, value), ...int(20, 2)];
  if (typeof value === 'string') return [...head, ...string(4, value), ...int(20, 3)];
  if (Array.isArray(value)) return [...head, ...value.flatMap((v) => int64(8, v)), ...int(20, 7)];
  if ('float' in value) return [...head, ...float32(2, value.float), ...int(20, 1)];
  if ('tensor' in value) return [...head, ...bytes(5, tensorProto('', ...value.tensor)), ...int(20, 4)];
  throw new Error(`attribute ${name}: unknown value ${value}`);
}

/** A ValueInfoProto: `name`, and when `type` is given, a tensor type, of shape `dims` (numbers or symbol names) when given. */
function valueInfo(name, type, dims) {
  if (!type) return string(1, name);
  const shape = dims?.flatMap((d) => bytes(1, typeof d === 'string' ? string(2, d) : int64(1, d)));
  const tensorType = [...int(1, ELEM[type]), ...(shape ? bytes(2, shape) : [])];
  return [...string(1, name), ...bytes(2, bytes(1, tensorType))];
}

/**
 * An ONNX model (IR version 8) of the graph, importing `opset` of the default domain (or, given
 * `[domain, version]` pairs, those):
 * - `nodes`: `{ op, name, inputs: [names], outputs: [names], attrs: { name: value }, domain }` ('' for an omitted input);
 * - `inputs`: `[name, type, dims]` graph inputs;
 * - `initializers`: `[name, type, dims, values]`;
 * - `outputs`: `[name]`, `[name, type]` or `[name, type, dims]` graph outputs.
 */
export function graphModel({ nodes, inputs = [], initializers = [], outputs, opset = 17 }) {
  const nodeBytes = nodes.map(({ op, name, inputs: ins = [], outputs: outs, attrs = {}, domain = '' }) => [
    ...ins.flatMap((i) => string(1, i)),
    ...outs.flatMap((o) => string(2, o)),
    ...string(3, name),
    ...string(4, op),
    ...Object.entries(attrs).flatMap(([k, v]) => bytes(5, attribute(k, v))),
    ...(domain ? string(7, domain) : []),
  ]);
  const graph = [
    ...nodeBytes.flatMap((n) => bytes(1, n)),
    ...string(2, 'hostile'),
    ...initializers.flatMap(([name, type, dims, values]) => bytes(5, tensorProto(name, type, dims, values))),
    ...inputs.flatMap(([name, type, dims]) => bytes(11, valueInfo(name, type, dims))),
    ...outputs.flatMap(([name, type, dims]) => bytes(12, valueInfo(name, type, dims))),
  ];
  const imports = typeof opset === 'number' ? [['', opset]] : opset;
  const opsets = imports.flatMap(([domain, version]) => bytes(8, [...(domain ? string(1, domain) : []), ...int(2, version)]));
  return new Uint8Array([...int(1, 8), ...opsets, ...bytes(7, graph)]);
}
