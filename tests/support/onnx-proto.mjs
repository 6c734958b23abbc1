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
