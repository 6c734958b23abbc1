// A seeded generator of hostile cases (issue 31), for tests/node/hostile-generated*.test.mjs:
// the same seed gives the same cases. Classes:
//   1 panics: tiny models with operator arguments (stride, axis, perm, step, ...) from an edge set;
//   2 64-bit shape and index values (constant or fed);
//   3 load-work bombs kept small enough for CI (Concat of N copies, long chains, constant-folding
//     bombs feeding NonZero/Transpose/ReduceSum);
//   4 memory: intermediates over the limits;
//   5 JS-value oddities (fed to a fixed model by the test);
//   m byte-level mutations (flips, truncations, insertions) of the small committed test models.
//
// A case: { cls, name, model (bytes), feeds ({ name: [type, values, dims] }), reference?: the exact
// outputs ({ name: [dims, values] }) when the generated model is valid and its answer is known in
// JS }; class 5 cases have `js: (ctx) => [feeds, fetches]` instead of a model.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { graphModel } from './onnx-proto.mjs';
import { root } from './models.mjs';

/** mulberry32: a tiny seeded PRNG. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const below = (n) => Math.floor(next() * n);
  return { next, below, pick: (items) => items[below(items.length)] };
}

const P31 = 2n ** 31n;
const P32 = 2n ** 32n;
/** Small edge values (class 1) and 64-bit ones (class 2). */
const SMALL = [0n, -1n, 1n, 2n, -2n, 3n, 5n, -7n, 100n];
const WIDE = [P31 - 1n, P31, -P31, P32, P32 + 1n, P32 + 2n, 2n ** 40n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)];

const x = (dims) => ['x', 'float32', dims];
const count = (dims) => dims.reduce((a, b) => a * b, 1);
const iota = (n) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * Operator templates with one hostile argument `v` (a BigInt): each gives the model and, where
 * the answer is easy to know for a valid `v`, a JS reference (else undefined).
 */
const templates = {
  Transpose: (v, r) => {
    const perm = r.below(2) ? [v, 0n] : [1n, v];
    const ok = perm.every((p) => p === 0n || p === 1n) && perm[0] !== perm[1];
    return {
      nodes: [{ op: 'Transpose', inputs: ['x'], attrs: { perm } }],
      dims: [2, 3],
      reference: ok && perm[0] === 1n ? (d) => [[3, 2], [d[0], d[3], d[1], d[4], d[2], d[5]]] : ok ? (d) => [[2, 3], d] : undefined,
    };
  },
  Gather: (v) => ({
    nodes: [{ op: 'Gather', inputs: ['x', 'c0'] }],
    consts: [[v]],
    dims: [3],
    reference: v >= -3n && v < 3n ? (d) => [[1], [d[Number((v + 3n) % 3n)]]] : undefined,
  }),
  GatherAxis: (v) => ({ nodes: [{ op: 'Gather', inputs: ['x', 'c0'], attrs: { axis: v } }], consts: [[0n]], dims: [2, 2] }),
  Squeeze: (v) => ({ nodes: [{ op: 'Squeeze', inputs: ['x', 'c0'] }], consts: [[v]], dims: [1, 3] }),
  Unsqueeze: (v) => ({ nodes: [{ op: 'Unsqueeze', inputs: ['x', 'c0'] }], consts: [[v]], dims: [3] }),
  Concat: (v) => ({ nodes: [{ op: 'Concat', inputs: ['x', 'x'], attrs: { axis: v } }], dims: [3] }),
  Softmax: (v) => ({ nodes: [{ op: 'Softmax', inputs: ['x'], attrs: { axis: v } }], dims: [3] }),
  Flatten: (v) => ({ nodes: [{ op: 'Flatten', inputs: ['x'], attrs: { axis: v } }], dims: [2, 3] }),
  ArgMax: (v) => ({ nodes: [{ op: 'ArgMax', inputs: ['x'], attrs: { axis: v } }], dims: [3], outType: 'int64' }),
  CumSum: (v) => ({ nodes: [{ op: 'CumSum', inputs: ['x', 'c0'] }], consts: [v], dims: [3] }),
  Split: (v) => ({ nodes: [{ op: 'Split', inputs: ['x', 'c0'], attrs: { axis: 0 } }], consts: [[v, 3n - v]], dims: [3] }),
  MaxPool: (v, r) => ({
    nodes: [{ op: 'MaxPool', inputs: ['x'], attrs: { kernel_shape: [2n, 2n], [r.pick(['strides', 'pads', 'dilations', 'kernel_shape'])]: r.pick([[v, 1n], [1n, v], [v, v, v, v]]) } }],
    dims: [1, 1, 4, 4],
  }),
  AveragePool: (v, r) => ({
    nodes: [{ op: 'AveragePool', inputs: ['x'], attrs: { kernel_shape: [2n, 2n], [r.pick(['strides', 'pads', 'kernel_shape'])]: r.pick([[v, 1n], [v, v, v, v]]) } }],
    dims: [1, 1, 4, 4],
  }),
  Conv: (v, r) => ({
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], attrs: { [r.pick(['strides', 'dilations', 'pads', 'group'])]: r.pick([[v, 1n], [v, v, v, v], v]) } }],
    floats: [['w', [1, 1, 2, 2], [1, 1, 1, 1]]],
    dims: [1, 1, 4, 4],
  }),
  Slice: (v, r) => {
    const args = [[0n], [3n], [0n], [1n]];
    const which = r.below(4);
    args[which] = [v];
    const [[s], [e], [a], [st]] = args;
    const valid = a === 0n || a === -1n;
    let reference;
    if (valid && st !== 0n) {
      // ONNX Slice on 3 elements.
      const clamp = (i, lo, hi) => (i < lo ? lo : i > hi ? hi : i);
      const n = 3n;
      let start = s < 0n ? s + n : s;
      let end = e < 0n ? e + n : e;
      start = st > 0n ? clamp(start, 0n, n) : clamp(start, 0n, n - 1n);
      end = st > 0n ? clamp(end, 0n, n) : clamp(end, -1n, n - 1n);
      reference = (d) => {
        const out = [];
        for (let i = start; st > 0n ? i < end : i > end; i += st) out.push(d[Number(i)]);
        return [[out.length], out];
      };
    }
    return { nodes: [{ op: 'Slice', inputs: ['x', 'c0', 'c1', 'c2', 'c3'] }], consts: args, dims: [3], reference };
  },
  Range: (v, r) => {
    const args = [0n, 5n, 1n];
    args[r.below(3)] = v;
    return { nodes: [{ op: 'Range', inputs: ['c0', 'c1', 'c2'] }], consts: args, dims: null, outType: 'int64' };
  },
  Reshape: (v, r) => ({ nodes: [{ op: 'Reshape', inputs: ['x', 'c0'] }], consts: [r.below(2) ? [v] : [v, 2n]], dims: [2, 2] }),
  Pad: (v, r) => ({ nodes: [{ op: 'Pad', inputs: ['x', 'c0'], attrs: { mode: r.pick(['constant', 'reflect', 'edge']) } }], consts: [r.below(2) ? [v, 0n] : [0n, v]], dims: [3] }),
  Tile: (v) => ({
    nodes: [{ op: 'Tile', inputs: ['x', 'c0'] }],
    consts: [[v]],
    dims: [2],
    reference: v >= 0n && v <= 5n ? (d) => [[2 * Number(v)], Array.from({ length: Number(v) }, () => d).flat()] : undefined,
  }),
  Expand: (v) => ({ nodes: [{ op: 'Expand', inputs: ['x', 'c0'] }], consts: [[v]], dims: [1] }),
  TopK: (v, r) => ({
    nodes: [{ op: 'TopK', inputs: ['x', 'c0'], outputs: ['y', 'i'], attrs: r.below(2) ? { axis: v } : {} }],
    consts: [[r.below(2) ? v : 1n]],
    dims: [3],
    extraOutputs: [['i', 'int64']],
  }),
  ReduceSum: (v) => ({ nodes: [{ op: 'ReduceSum', inputs: ['x', 'c0'] }], consts: [[v]], dims: [2, 3] }),
  ReduceMean: (v) => ({ nodes: [{ op: 'ReduceMean', inputs: ['x'], attrs: { axes: [v] } }], dims: [2, 3], opset: 13 }),
  DepthToSpace: (v) => ({ nodes: [{ op: 'DepthToSpace', inputs: ['x'], attrs: { blocksize: v } }], dims: [1, 4, 1, 1] }),
  OneHot: (v) => ({ nodes: [{ op: 'OneHot', inputs: ['c0', 'c1', 'c2'] }], consts: [[1n], v, [0n, 1n]], dims: null, outType: 'int64' }),
  ConstantOfShape: (v) => ({ nodes: [{ op: 'ConstantOfShape', inputs: ['c0'] }], consts: [[v]], dims: null }),
  Mod: (v) => ({ nodes: [{ op: 'Mod', inputs: ['c0', 'c1'] }], consts: [[v], [-1n]], dims: null, outType: 'int64' }),
  Div: (v) => ({ nodes: [{ op: 'Div', inputs: ['c0', 'c1'] }], consts: [[-(2n ** 63n)], [v]], dims: null, outType: 'int64' }),
};

/** The model of a template's node list: x (float32 dims, when dims) -> ... -> y. */
function build({ nodes, consts = [], floats = [], dims, outType = 'float32', extraOutputs = [], opset = 17 }) {
  return graphModel({
    nodes: nodes.map((n, i) => ({ outputs: ['y'], name: `node_${i}_${n.op.toLowerCase()}`, ...n })),
    inputs: dims ? [x(dims)] : [],
    initializers: [
      ...consts.map((values, i) => [`c${i}`, 'int64', Array.isArray(values) ? [values.length] : [], [values].flat()]),
      ...floats.map(([name, d, values]) => [name, 'float32', d, values]),
    ],
    outputs: [['y', outType], ...extraOutputs],
    opset,
  });
}

/** Fed 64-bit shape and index values: the value arrives as an int64 feed, not a constant. */
const fedTemplates = {
  Reshape: (v) => ({ op: 'Reshape', extra: [['s', [v, 2n]]], dims: [2, 2] }),
  Expand: (v) => ({ op: 'Expand', extra: [['s', [v]]], dims: [1] }),
  Tile: (v) => ({ op: 'Tile', extra: [['s', [v]]], dims: [1] }),
  Gather: (v) => ({ op: 'Gather', extra: [['s', [v]]], dims: [3] }),
  Slice: (v) => ({ op: 'Slice', extra: [['s', [v]], ['e', [v + 2n]]], dims: [3] }),
  ConstantOfShape: (v) => ({ op: 'ConstantOfShape', extra: [['s', [v]]], dims: null }),
  Range: (v) => ({ op: 'Range', extra: [['s', v], ['e', v + 3n], ['d', 1n]], dims: null, outType: 'int64' }),
};

function fedCase(op, v) {
  const t = fedTemplates[op](v);
  const names = t.extra.map(([n]) => n);
  const model = graphModel({
    nodes: [{ op: t.op, name: `fed_${op.toLowerCase()}`, inputs: [...(t.dims ? ['x'] : []), ...names], outputs: ['y'] }],
    inputs: [...(t.dims ? [x(t.dims)] : []), ...t.extra.map(([n, val]) => [n, 'int64', Array.isArray(val) ? [val.length] : []])],
    outputs: [['y', t.outType ?? 'float32']],
  });
  const feeds = Object.fromEntries(t.extra.map(([n, val]) => [n, ['int64', [val].flat(), Array.isArray(val) ? [val.length] : []]]));
  if (t.dims) feeds.x = ['float32', iota(count(t.dims)), t.dims];
  return { model, feeds };
}

/** Class 3: load-work bombs, small enough for CI. */
function bomb(r) {
  const kind = r.pick(['concat', 'chain', 'nonzero', 'transpose', 'tile', 'fanout']);
  if (kind === 'concat') {
    const n = 200 + r.below(1800);
    return {
      name: `Concat of ${n} copies`,
      model: graphModel({ nodes: [{ op: 'Concat', name: 'bomb_concat', inputs: Array(n).fill('x'), outputs: ['y'], attrs: { axis: 0 } }], inputs: [x([1])], outputs: [['y', 'float32']] }),
      feeds: { x: ['float32', [2], [1]] },
      reference: { y: [[n], Array(n).fill(2)] },
    };
  }
  if (kind === 'chain') {
    const n = 200 + r.below(1800);
    const op = r.pick(['Relu', 'Neg', 'Identity', 'Abs']);
    const nodes = Array.from({ length: n }, (_, i) => ({ op, name: `c${i}`, inputs: [i ? `v${i - 1}` : 'x'], outputs: [i === n - 1 ? 'y' : `v${i}`] }));
    const f = { Relu: (a) => Math.max(a, 0), Neg: (a) => -a, Identity: (a) => a, Abs: Math.abs }[op];
    const ref = [-1.5, 2, 0].map((a) => Array.from({ length: n }).reduce((acc) => f(acc), a));
    return {
      name: `a chain of ${n} ${op}`,
      model: graphModel({ nodes, inputs: [x([3])], outputs: [['y', 'float32']] }),
      feeds: { x: ['float32', [-1.5, 2, 0], [3]] },
      reference: { y: [[3], ref] },
    };
  }
  if (kind === 'fanout') {
    // Each Add uses the previous two values: a DAG whose paths double at each node.
    const n = 100 + r.below(400);
    const nodes = Array.from({ length: n }, (_, i) => ({ op: 'Add', name: `a${i}`, inputs: [i ? `v${i - 1}` : 'x', i > 1 ? `v${i - 2}` : 'x'], outputs: [i === n - 1 ? 'y' : `v${i}`] }));
    return { name: `a Fibonacci DAG of ${n} Adds`, model: graphModel({ nodes, inputs: [x([1])], outputs: [['y', 'float32']] }), feeds: { x: ['float32', [0], [1]] }, reference: { y: [[1], [0]] } };
  }
  // Constant-folding bombs: a huge constant made at load time.
  const side = BigInt(r.pick([1 << 10, 1 << 14, 1 << 16, 1 << 20]));
  const shape = r.below(2) ? [side, side] : [side * side];
  const make = { op: 'ConstantOfShape', name: 'bomb_make', inputs: ['s'], outputs: ['big'], attrs: { value: { tensor: ['float32', [1], [1]] } } };
  const sink = {
    nonzero: [{ op: 'NonZero', name: 'bomb_nonzero', inputs: ['big'], outputs: ['y'] }],
    transpose: [{ op: 'Transpose', name: 'bomb_transpose', inputs: ['big'], outputs: ['y'] }],
    tile: [
      { op: 'Tile', name: 'bomb_tile', inputs: ['big', 'rep'], outputs: ['t'] },
      { op: 'ReduceSum', name: 'bomb_sum', inputs: ['t'], outputs: ['y'], attrs: { keepdims: 0 } },
    ],
  }[kind];
  return {
    name: `ConstantOfShape [${shape.join(', ')}] into ${kind}`,
    model: graphModel({
      nodes: [make, ...sink],
      initializers: [
        ['s', 'int64', [shape.length], shape],
        ['rep', 'int64', [shape.length], shape.map(() => 4n)],
      ],
      outputs: [['y', kind === 'nonzero' ? 'int64' : 'float32']],
    }),
    feeds: {},
  };
}

/** Class 4: one intermediate over the memory limits (an outer product, a broadcast, a fed shape). */
function memory(r) {
  const n = r.pick([20000, 50000, 100000, 1 << 20]);
  const kind = r.pick(['outer', 'expand', 'fed']);
  if (kind === 'outer') {
    return {
      name: `a MatMul outer product of ${n} x ${n}`,
      model: graphModel({
        nodes: [
          { op: 'MatMul', name: 'mem_outer', inputs: ['a', 'b'], outputs: ['p'] },
          { op: 'ReduceSum', name: 'mem_sum', inputs: ['p'], outputs: ['y'], attrs: { keepdims: 0 } },
        ],
        inputs: [
          ['a', 'float32', [n, 1]],
          ['b', 'float32', [1, n]],
        ],
        outputs: [['y', 'float32']],
      }),
      feeds: { a: ['float32', Array(n).fill(0), [n, 1]], b: ['float32', Array(n).fill(0), [1, n]] },
    };
  }
  if (kind === 'expand') {
    return {
      name: `Expand [${n}, 1] to [${n}, ${n}]`,
      model: graphModel({
        nodes: [
          { op: 'Expand', name: 'mem_expand', inputs: ['x', 's'], outputs: ['e'] },
          { op: 'ReduceMax', name: 'mem_max', inputs: ['e'], outputs: ['y'], attrs: { keepdims: 0 } },
        ],
        inputs: [x([n, 1])],
        initializers: [['s', 'int64', [2], [n, n]]],
        outputs: [['y', 'float32']],
      }),
      feeds: { x: ['float32', Array(n).fill(1), [n, 1]] },
    };
  }
  return {
    name: `ConstantOfShape of a fed shape [${n}, ${n}]`,
    model: graphModel({
      nodes: [{ op: 'ConstantOfShape', name: 'mem_fed', inputs: ['s'], outputs: ['y'] }],
      inputs: [['s', 'int64', [2]]],
      outputs: [['y', 'float32']],
    }),
    feeds: { s: ['int64', [n, n], [2]] },
  };
}

/** Class m: the small committed test models (under 1 MB). */
export const seedModels = readdirSync(join(root, 'tests', 'models'))
  .filter((f) => f.endsWith('.onnx'))
  .sort()
  .map((f) => [f, new Uint8Array(readFileSync(join(root, 'tests', 'models', f)))])
  .filter(([, bytes]) => bytes.length < 1 << 20);

function mutant(r) {
  const [file, original] = r.pick(seedModels);
  let bytes = [...original];
  const steps = [];
  for (let k = 1 + r.below(4); k > 0; k--) {
    const at = r.below(bytes.length + 1);
    const op = r.pick(['flip', 'set', 'truncate', 'insert', 'delete']);
    if (op === 'flip' && at < bytes.length) bytes[at] ^= 1 << r.below(8);
    else if (op === 'set' && at < bytes.length) bytes[at] = r.pick([0, 1, 0x7f, 0x80, 0xff]);
    else if (op === 'truncate') bytes = bytes.slice(0, at);
    else if (op === 'insert') bytes.splice(at, 0, ...Array.from({ length: 1 + r.below(8) }, () => r.below(256)));
    else bytes.splice(at, 1 + r.below(8));
    steps.push(`${op}@${at}`);
  }
  return { name: `${file} ${steps.join(' ')}`, model: new Uint8Array(bytes), feeds: 'auto' };
}

/**
 * Class 5: JS-value oddities, each `(ctx) => [feeds, fetches?]` for the model x (float32 [3]) -> y,
 * where ctx = { Tensor, good } (`good` a valid x tensor). `thrown` marks the caller's own error.
 */
export const THROWN = new Error('the caller threw');
const oddities = [
  ['a plain object shaped like a Tensor', ({ good }) => [{ x: { type: 'float32', data: good.data, dims: [3] } }]],
  ['a tensor-like with string dims', ({ good }) => [{ x: { type: 'float32', data: good.data, dims: ['3'] } }]],
  ['a tensor-like with NaN dims', ({ good }) => [{ x: { type: 'float32', data: good.data, dims: [NaN] } }]],
  ['a Tensor of NaN dims', ({ Tensor }) => [{ x: new Tensor('float32', new Float32Array(3), [NaN]) }]],
  ['a Tensor of -3 dims', ({ Tensor }) => [{ x: new Tensor('float32', new Float32Array(3), [-3]) }]],
  ['a Tensor of dims 2^53', ({ Tensor }) => [{ x: new Tensor('float32', new Float32Array(3), [2 ** 53]) }]],
  ['a getter that throws', () => [Object.defineProperty({}, 'x', { enumerable: true, get: () => { throw THROWN; } })]],
  ['a Proxy of a Tensor', ({ good }) => [{ x: new Proxy(good, {}) }]],
  ['a Proxy of the feeds', ({ good }) => [new Proxy({ x: good }, {})]],
  ['a Proxy whose ownKeys throws', ({ good }) => [new Proxy({ x: good }, { ownKeys: () => { throw THROWN; } })]],
  ['a detached buffer', ({ Tensor }) => {
    const data = new Float32Array(3);
    const t = new Tensor('float32', data, [3]);
    structuredClone(data.buffer, { transfer: [data.buffer] });
    return [{ x: t }];
  }],
  ['a sparse array', ({ Tensor }) => {
    const a = [1];
    a[2] = 3;
    return [{ x: new Tensor('float32', a, [3]) }];
  }],
  ['a symbol key', ({ good }) => [{ x: good, [Symbol('x')]: good }]],
  ['a __proto__ key', ({ good }) => [JSON.parse(`{"__proto__": {"x": 1}, "x": null}`)].map((f) => ({ ...f, x: good }))],
  ['an inherited input', ({ good }) => [Object.create({ x: good })]],
  ['null feeds', () => [null]],
  ['a string for the feeds', () => ['x']],
  ['an array of tensors', ({ good }) => [[good]]],
  ['a number for x', () => [{ x: 3 }]],
  ['a wrong type', ({ Tensor }) => [{ x: new Tensor('int32', new Int32Array(3), [3]) }]],
  ['a wrong length', ({ Tensor }) => [{ x: new Tensor('float32', new Float32Array(4), [4]) }]],
  ['fetches of a number', ({ good }) => [{ x: good }, 7]],
  ['fetches naming nothing', ({ good }) => [{ x: good }, ['nope']]],
  ['fetches twice', ({ good }) => [{ x: good }, ['y', 'y']]],
  ['fetches of a symbol', ({ good }) => [{ x: good }, [Symbol('y')]]],
  ['fetches of a Proxy', ({ good }) => [{ x: good }, new Proxy(['y'], {})]],
  ['fetches object with a getter that throws', ({ good }) => [{ x: good }, Object.defineProperty({}, 'y', { enumerable: true, get: () => { throw THROWN; } })]],
  ['a Tensor with a data getter that throws', ({ good }) => [{ x: Object.create(Object.getPrototypeOf(good), { type: { value: 'float32' }, dims: { value: [3] }, data: { get: () => { throw THROWN; } } }) }]],
  ['a frozen feeds object', ({ good }) => [Object.freeze({ x: good }), Object.freeze(['y'])]],
  ['a BigInt64Array for float32', ({ good }) => [{ x: Object.create(Object.getPrototypeOf(good), { type: { value: 'float32' }, dims: { value: [3] }, data: { value: new BigInt64Array(3) } }) }]],
];

/** All classes, in generation order; `n` cases in all from `seed`. */
export function generateCases(seed, n) {
  const r = prng(seed);
  const ops = Object.keys(templates);
  const cases = [];
  for (let i = 0; i < n; i++) {
    const cls = r.pick(['1', '1', '2', '2', '2f', '3', '4', '5', '5', 'm', 'm', 'm']);
    if (cls === '1' || cls === '2') {
      const op = r.pick(ops);
      const v = r.pick(cls === '1' ? SMALL : WIDE);
      const t = templates[op](v, r);
      const dims = t.dims;
      const data = dims ? iota(count(dims)) : [];
      const reference = t.reference?.(data);
      cases.push({ cls: cls === '1' ? '1 panics' : '2 64-bit', name: `${op} with ${v}`, model: build(t), feeds: dims ? { x: ['float32', data, dims] } : {}, reference: reference && { y: reference } });
    } else if (cls === '2f') {
      const op = r.pick(Object.keys(fedTemplates));
      const v = r.pick(WIDE);
      cases.push({ cls: '2 64-bit', name: `${op} with a fed ${v}`, ...fedCase(op, v) });
    } else if (cls === '3') cases.push({ cls: '3 load work', ...bomb(r) });
    else if (cls === '4') cases.push({ cls: '4 memory', ...memory(r) });
    else if (cls === '5') {
      const [name, js] = r.pick(oddities);
      cases.push({ cls: '5 JS values', name, js });
    } else cases.push({ cls: 'm mutations', ...mutant(r) });
  }
  return cases;
}
