// Hostile tiny models (issue 31): each must give an OnnxletError naming the problem and the node,
// or the exact answer, on every engine; never a panic (which crashes the wasm module and releases
// every session) nor a wrong answer. Class 1 panicked; class 2 read 64-bit shape and index values
// through a 32-bit usize on wasm32, so 2^32 + 2 became 2 and 2^40 became 0.
//
// Each case: `model` (bytes), `feeds` ({ name: [type, values, dims] }), the `node` the error must
// name (bad_<operator> unless `node` says otherwise), `error` (a RegExp the message must match) or `exact` ({ output: [dims, values] }).
import { graphModel } from './onnx-proto.mjs';

const P32 = 2n ** 32n;
const P40 = 2n ** 40n;
const I64_MIN = -(2n ** 63n);

const x3 = { x: ['float32', [1, 2, 3], [3]] };
const xIn = (dims) => [['x', 'float32', dims]];

/** One node `op` named `node` over graph input x (float32 `dims`) and constant int64 inputs. */
function oneNode(op, { dims = [3], consts = [], attrs = {}, opset = 17, extraInputs = [], outType = 'float32' } = {}) {
  return graphModel({
    nodes: [{ op, name: `bad_${op.toLowerCase()}`, inputs: ['x', ...consts.map((_, i) => `c${i}`), ...extraInputs], outputs: ['y'], attrs }],
    inputs: xIn(dims),
    initializers: consts.map((values, i) => [`c${i}`, 'int64', Array.isArray(values) ? [values.length] : [], [values].flat()]),
    outputs: [['y', outType]],
    opset,
  });
}

/** One node `op` over int64 graph inputs a and b (shape [1]). */
/** `op` of two int64 constants, which tract folds at load through its dimension arithmetic. */
/** `op` on two int64 values of shape [1]: fed inputs, or, given `values`, two initializers. */
const intBinary = (op, values) =>
  graphModel({
    nodes: [{ op, name: `bad_${op.toLowerCase()}`, inputs: ['a', 'b'], outputs: ['y'] }],
    ...(values
      ? { initializers: [['a', 'int64', [1], [values[0]]], ['b', 'int64', [1], [values[1]]]] }
      : { inputs: [['a', 'int64', [1]], ['b', 'int64', [1]]] }),
    outputs: [['y', 'int64']],
  });

// The lite build has no Einsum: UNSUPPORTED_OPERATOR there, naming the node.
const einsum = (equation, inputs) =>
  graphModel({
    nodes: [{ op: 'Einsum', name: 'bad_einsum', inputs: Array(inputs).fill('x'), outputs: ['y'], attrs: { equation } }],
    inputs: xIn([2, 2]),
    outputs: [['y', 'float32']],
  });

const x22 = { x: ['float32', [1, 2, 3, 4], [2, 2]] };
const image = { x: ['float32', Array.from({ length: 16 }, (_, i) => i), [1, 1, 4, 4]] };

export const cases = [
  // Class 1: panics.
  {
    name: 'Range with a constant step of 0',
    model: graphModel({
      nodes: [{ op: 'Range', name: 'bad_range', inputs: ['s', 'l', 'd'], outputs: ['y'] }],
      initializers: [
        ['s', 'int64', [], [0]],
        ['l', 'int64', [], [5]],
        ['d', 'int64', [], [0]],
      ],
      outputs: [['y', 'int64']],
    }),
    feeds: {},
    error: /Range.*(delta|step)|(delta|step).*Range/i,
  },
  {
    name: 'Range with a fed step of 0',
    model: graphModel({
      nodes: [{ op: 'Range', name: 'bad_range', inputs: ['s', 'l', 'd'], outputs: ['y'] }],
      inputs: [['d', 'int64', []]],
      initializers: [
        ['s', 'int64', [], [0]],
        ['l', 'int64', [], [5]],
      ],
      outputs: [['y', 'int64']],
    }),
    feeds: { d: ['int64', [0], []] },
    error: /Range.*(delta|step)|(delta|step).*Range/i,
  },
  // Found by the fuzzer on wasm32 (lite): collected with no known size, the 2^27 + 3 values grew
  // their vector past what wasm32 addresses (a capacity overflow panic; natively it grew fine).
  {
    name: 'Range of 2^27 + 3 int64 values',
    model: graphModel({
      nodes: [
        { op: 'Range', name: 'long_range', inputs: ['s', 'l', 'd'], outputs: ['r'] },
        { op: 'ReduceMax', name: 'last', inputs: ['r'], outputs: ['y'], attrs: { keepdims: 0 } },
      ],
      inputs: [['d', 'int64', []]],
      initializers: [
        ['s', 'int64', [], [0]],
        ['l', 'int64', [], [2 ** 28 + 5]],
      ],
      outputs: [['y', 'int64']],
    }),
    feeds: { d: ['int64', [2], []] },
    // The last of 0, 2, ..., 2^28 + 4.
    exact: { y: [[], [2n ** 28n + 4n]] },
  },
  {
    name: 'Mod of INT64_MIN by -1',
    model: intBinary('Mod'),
    feeds: { a: ['int64', [I64_MIN], [1]], b: ['int64', [-1], [1]] },
    exact: { y: [[1], [0n]] },
  },
  // tract folded these at load through its dimension arithmetic, whose divisor is unsigned:
  // Mod(INT64_MIN, -1) panicked there (dim/tree.rs), the last model known to crash the module.
  {
    name: 'Mod of the constants INT64_MIN and -1',
    model: intBinary('Mod', [I64_MIN, -1n]),
    feeds: {},
    exact: { y: [[1], [0n]] },
  },
  {
    name: 'Div of the constants 7 and -1',
    model: intBinary('Div', [7n, -1n]),
    feeds: {},
    exact: { y: [[1], [-7n]] },
  },
  {
    name: 'Mod of the constants 7 and 0',
    model: intBinary('Mod', [7n, 0n]),
    feeds: {},
    error: /division by zero|divisor|zero/i,
  },
  {
    name: 'Div of INT64_MIN by -1',
    model: intBinary('Div'),
    feeds: { a: ['int64', [I64_MIN], [1]], b: ['int64', [-1], [1]] },
    // Integer overflow wraps, as in onnxruntime (and Mul, Neg, Abs): no panic.
    exact: { y: [[1], [I64_MIN]] },
  },
  {
    name: 'Transpose with a repeated perm',
    model: oneNode('Transpose', { dims: [2, 2], attrs: { perm: [1, 1] } }),
    feeds: x22,
    error: /perm/i,
  },
  {
    name: 'Transpose with a perm out of range',
    model: oneNode('Transpose', { dims: [2, 2], attrs: { perm: [0, 2] } }),
    feeds: x22,
    error: /perm/i,
  },
  {
    name: 'Squeeze with an axis out of range',
    model: oneNode('Squeeze', { dims: [1, 3], consts: [[5]] }),
    feeds: { x: ['float32', [1, 2, 3], [1, 3]] },
    error: /axis 5|out of range/i,
  },
  {
    name: 'MaxPool with a stride of 0',
    model: oneNode('MaxPool', { dims: [1, 1, 4, 4], attrs: { kernel_shape: [2, 2], strides: [0, 0] } }),
    feeds: image,
    error: /stride/i,
  },
  {
    // On wasm32 the lite engine cast it to a usize of 0 and divided by it (found at seed 2).
    name: 'Conv with a group of 2^62',
    model: graphModel({
      nodes: [{ op: 'Conv', name: 'bad_conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { group: 2n ** 62n } }],
      inputs: xIn([1, 1, 4, 4]),
      initializers: [['w', 'float32', [1, 1, 2, 2], [1, 1, 1, 1]]],
      outputs: [['y', 'float32']],
    }),
    feeds: image,
    // lite names the group; tract finds the channels inconsistent.
    error: /group|unify/i,
  },
  {
    name: 'Conv with a stride of 0',
    model: graphModel({
      nodes: [{ op: 'Conv', name: 'bad_conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: [0, 0] } }],
      inputs: xIn([1, 1, 4, 4]),
      initializers: [['w', 'float32', [1, 1, 2, 2], [1, 1, 1, 1]]],
      outputs: [['y', 'float32']],
    }),
    feeds: image,
    error: /stride/i,
  },
  {
    name: 'Expand to a negative size',
    model: oneNode('Expand', { dims: [1], consts: [[-2]] }),
    feeds: { x: ['float32', [1], [1]] },
    error: /-2|negative/i,
  },
  // Panics of the tract engine found by the generated cases (hostile-generator.mjs).
  {
    name: 'ConstantOfShape of a negative shape',
    model: graphModel({
      nodes: [{ op: 'ConstantOfShape', name: 'bad_constantofshape', inputs: ['s'], outputs: ['y'] }],
      initializers: [['s', 'int64', [1], [-7]]],
      outputs: [['y', 'float32']],
    }),
    feeds: {},
    error: /-7|negative/i,
  },
  {
    name: 'Flatten with an axis out of range',
    model: oneNode('Flatten', { dims: [2, 2], attrs: { axis: 3 } }),
    feeds: x22,
    error: /axis/i,
  },
  {
    name: 'Split into two sizes with one output',
    model: oneNode('Split', { dims: [3], consts: [[0, 3]], attrs: { axis: 0 } }),
    feeds: x3,
    error: /split|output/i,
  },
  {
    name: 'MaxPool with pads for one axis of two',
    model: oneNode('MaxPool', { dims: [1, 1, 4, 4], attrs: { kernel_shape: [2, 2], pads: [1, 1] } }),
    feeds: image,
    error: /pads/i,
  },
  {
    // Padded sizes wrapped on wasm32: tract ran 106 s and returned a 1x1 output.
    name: 'MaxPool with pads of 2^31 - 1',
    model: oneNode('MaxPool', { dims: [1, 1, 4, 4], attrs: { kernel_shape: [2, 2], pads: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1] } }),
    feeds: image,
    error: /2147483647/,
  },
  {
    name: 'AveragePool with strides for four axes of two',
    model: oneNode('AveragePool', { dims: [1, 1, 4, 4], attrs: { kernel_shape: [2, 2], strides: [1, 1, 1, 1] } }),
    feeds: image,
    error: /strides/i,
  },
  {
    name: 'Conv with dilations for one axis of two',
    model: graphModel({
      nodes: [{ op: 'Conv', name: 'bad_conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { dilations: [2, 1, 1] } }],
      inputs: xIn([1, 1, 4, 4]),
      initializers: [['w', 'float32', [1, 1, 2, 2], [1, 1, 1, 1]]],
      outputs: [['y', 'float32']],
    }),
    feeds: image,
    error: /dilation/i,
  },
  {
    name: 'TopK with an axis out of range',
    model: graphModel({
      nodes: [{ op: 'TopK', name: 'bad_topk', inputs: ['x', 'k'], outputs: ['y', 'i'], attrs: { axis: -7 } }],
      inputs: xIn([3]),
      initializers: [['k', 'int64', [1], [1]]],
      outputs: [
        ['y', 'float32'],
        ['i', 'int64'],
      ],
    }),
    feeds: x3,
    error: /axis/i,
  },
  {
    name: 'DepthToSpace with a blocksize of 2^40',
    model: oneNode('DepthToSpace', { dims: [1, 4, 1, 1], attrs: { blocksize: P40 } }),
    feeds: { x: ['float32', [1, 2, 3, 4], [1, 4, 1, 1]] },
    error: /blocksize|1099511627776/i,
  },
  {
    name: 'TopK of k = -1',
    model: graphModel({
      nodes: [{ op: 'TopK', name: 'bad_topk', inputs: ['x', 'k'], outputs: ['y', 'i'] }],
      inputs: xIn([3]),
      initializers: [['k', 'int64', [1], [-1]]],
      outputs: [
        ['y', 'float32'],
        ['i', 'int64'],
      ],
    }),
    feeds: x3,
    error: /-1|negative/i,
  },
  {
    name: 'AveragePool with a kernel of 0',
    model: oneNode('AveragePool', { dims: [1, 1, 4, 4], attrs: { kernel_shape: [0, 1] } }),
    feeds: image,
    error: /kernel/i,
  },
  ...[
    ['ij->k', 1, 'an output label no input has'],
    ['i->i', 1, 'one label for a rank-2 input'],
    ['ij,jk,kl->il', 2, 'three operands for two inputs'],
    ['ij->ij->ij', 1, 'two arrows'],
    ['ij->jj', 1, 'an output label twice'],
    ['i%,j%', 2, 'not a letter'],
    ['', 1, 'empty'],
  ].map(([equation, inputs, what]) => ({
    name: `Einsum equation '${equation}' (${what})`,
    model: einsum(equation, inputs),
    feeds: x22,
    error: /einsum/i,
    engines: { lite: 'unsupported' },
  })),
  {
    name: 'a graph output no node produces',
    model: graphModel({
      nodes: [{ op: 'Relu', name: 'bad_relu', inputs: ['x'], outputs: ['y'] }],
      inputs: xIn([3]),
      outputs: [['z', 'float32']],
    }),
    feeds: x3,
    node: 'z',
    error: /output/i,
  },
  // Class 2: 64-bit shape and index values.
  {
    name: 'Gather at constant index 2^32 + 2',
    model: oneNode('Gather', { consts: [P32 + 2n] }),
    feeds: x3,
    error: /4294967298/,
  },
  {
    name: 'Expand to 2^32 + 3',
    model: oneNode('Expand', { dims: [1], consts: [[P32 + 3n]] }),
    feeds: { x: ['float32', [1], [1]] },
    error: /4294967299/,
  },
  {
    name: 'Pad by 2^32 + 1',
    model: oneNode('Pad', { consts: [[0n, P32 + 1n]] }),
    feeds: x3,
    error: /4294967300|4294967297/,
  },
  {
    name: 'Pad by 2^63 - 1',
    model: oneNode('Pad', { consts: [[0n, 2n ** 63n - 1n]] }),
    feeds: x3,
    error: /9223372036854775807/,
  },
  {
    name: 'Slice [2^32 + 1 : 2^32 + 3] of 3 elements',
    model: oneNode('Slice', { consts: [[P32 + 1n], [P32 + 3n]] }),
    feeds: x3,
    exact: { y: [[0], []] },
  },
  {
    name: 'Reshape to a fed shape [2^32 + 2, 2]',
    model: graphModel({
      nodes: [{ op: 'Reshape', name: 'bad_reshape', inputs: ['x', 's'], outputs: ['y'] }],
      inputs: [...xIn([2, 2]), ['s', 'int64', [2]]],
      outputs: [['y', 'float32']],
    }),
    feeds: { ...x22, s: ['int64', [P32 + 2n, 2n], [2]] },
    error: /4294967298/,
  },
  {
    name: 'Expand to 2^40',
    model: oneNode('Expand', { dims: [1], consts: [[P40]] }),
    feeds: { x: ['float32', [1], [1]] },
    error: /1099511627776/,
  },
  {
    name: 'Tile 2^40 times',
    model: oneNode('Tile', { dims: [1], consts: [[P40]] }),
    feeds: { x: ['float32', [1], [1]] },
    error: /1099511627776/,
  },
  {
    name: 'TopK of k = 2^40',
    model: graphModel({
      nodes: [{ op: 'TopK', name: 'bad_topk', inputs: ['x', 'k'], outputs: ['y', 'i'] }],
      inputs: xIn([3]),
      initializers: [['k', 'int64', [1], [P40]]],
      outputs: [
        ['y', 'float32'],
        ['i', 'int64'],
      ],
    }),
    feeds: x3,
    error: /1099511627776/,
  },
  {
    name: 'ConstantOfShape [2^40]',
    model: graphModel({
      nodes: [{ op: 'ConstantOfShape', name: 'bad_constantofshape', inputs: ['s'], outputs: ['y'] }],
      initializers: [['s', 'int64', [1], [P40]]],
      outputs: [['y', 'float32']],
    }),
    feeds: {},
    error: /1099511627776/,
  },
  {
    name: 'ConstantOfShape of a fed shape [2^40]',
    model: graphModel({
      nodes: [{ op: 'ConstantOfShape', name: 'bad_constantofshape', inputs: ['s'], outputs: ['y'] }],
      inputs: [['s', 'int64', [1]]],
      outputs: [['y', 'float32']],
    }),
    feeds: { s: ['int64', [P40], [1]] },
    error: /1099511627776/,
  },
];

// Every node is named bad_<operator> (the first word of the case's name); that name must be in the error.
for (const c of cases) c.node ??= `bad_${c.name.split(' ')[0].toLowerCase()}`;

/** The file name (without .onnx) of a case's model in tests/models/hostile/. */
export const slug = (name) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');

export const hostileDir = new URL('../models/hostile/', import.meta.url).pathname;
