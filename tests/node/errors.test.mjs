// Every bad input gives an OnnxletError with the right code and a message naming the
// problem, and the next valid call still works. On the default engine choice (the lite engine,
// and tract for models it cannot run); errors-tract.test.mjs runs the same tests on tract alone.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { InferenceSession, OnnxletError, Tensor, env, memoryUsage } from 'onnxlet';

import { loadIndex, modelsDir, testModel } from '../support/models.mjs';
import { graphModel } from '../support/onnx-proto.mjs';

/** Whether every session runs on tract (env.wasm.build = 'tract'), else on the default choice. */
const onTract = process.env.ONNXLET_BUILD === 'tract';
if (onTract) env.wasm.build = 'tract';
/** `onTract` ? `tract` : `lite`: what the two engines say differently about the same input. */
const byEngine = (tract, lite) => (onTract ? tract : lite);

const f32 = (dims, fill = 0) => new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims);

async function stillWorks() {
  const session = await InferenceSession.create(testModel('add_dynamic.onnx'));
  const { sum } = await session.run({ a: f32([2, 3], 1), b: f32([2, 3], 2) });
  assert.deepEqual([...sum.data], [3, 3, 3, 3, 3, 3]);
}

async function expectError(promise, code, ...fragments) {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e) => e,
  );
  assert.ok(error instanceof OnnxletError, `not an OnnxletError: ${error}`);
  assert.equal(error.code, code, error.message);
  for (const f of fragments) assert.match(error.message, f instanceof RegExp ? f : new RegExp(escape(f)));
  return error;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('garbage and truncated model bytes are INVALID_MODEL', async () => {
  const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 13);
  await expectError(InferenceSession.create(garbage), 'INVALID_MODEL', 'ONNX');
  await expectError(InferenceSession.create(new Uint8Array()), 'INVALID_MODEL', 'no graph');
  const model = await readFile(testModel('matmul_seq.onnx'));
  for (const cut of [1, model.length >> 1, model.length - 1]) {
    await expectError(InferenceSession.create(model.subarray(0, cut)), 'INVALID_MODEL');
  }
  await stillWorks();
});

test('an unsupported operator is named, with its domain, opset and node, at load', async () => {
  await expectError(
    InferenceSession.create(testModel('unsupported_op.onnx')),
    'UNSUPPORTED_OPERATOR',
    'FrobnicateTensor',
    "node 'weird_node'",
    'ai.onnx',
    'opset 13',
  );
  await stillWorks();
});

test('wrong dtype, rank, dim, missing and unknown inputs are INVALID_INPUT', async () => {
  const session = await InferenceSession.create(testModel('add_dynamic.onnx'));
  const b = f32([2, 3]);
  await expectError(
    session.run({ a: new Tensor('int32', new Int32Array(6), [2, 3]), b }),
    'INVALID_INPUT',
    "input 'a'",
    'expected a float32 tensor, got int32',
  );
  await expectError(session.run({ a: f32([6]), b }), 'INVALID_INPUT', "input 'a'", 'expected rank 2 with shape [N, 3]', 'got rank 1');
  await expectError(session.run({ a: f32([2, 4]), b }), 'INVALID_INPUT', 'dimension 1 must be 3', 'got 4');
  // Inputs that disagree on a symbol: tract's symbolic plan sizes its values from the symbols
  // and refuses them up front; the lite engine sizes everything from the fed shapes (as
  // onnxruntime does, which accepts a merged decoder's longer attention_mask), and the node that
  // cannot take them fails.
  if (session.engine === 'tract') {
    await expectError(session.run({ a: f32([2, 3]), b: f32([5, 3]) }), 'INVALID_INPUT', "input 'b'", '(N) is 5', "input 'a' already set N = 2");
  } else {
    await expectError(session.run({ a: f32([2, 3]), b: f32([5, 3]) }), 'RUNTIME_ERROR', "Add node 'add'", 'shapes [2, 3] and [5, 3] do not broadcast');
  }
  await expectError(session.run({ a: f32([2, 3]) }), 'INVALID_INPUT', "missing input 'b' (float32 [N, 3])");
  await expectError(session.run({ a: f32([2, 3]), b, c: b }), 'INVALID_INPUT', "unknown input 'c'", 'model inputs: a, b');
  await expectError(session.run({ a: [1, 2, 3], b }), 'INVALID_INPUT', "input 'a' must be a Tensor");
  await expectError(session.run(f32([2, 3])), 'INVALID_ARGUMENT', 'feeds must be an object');
  await expectError(session.run({ a: f32([2, 3]), b }, ['nope']), 'INVALID_ARGUMENT', "unknown output 'nope'", 'sum');
  const { sum } = await session.run({ a: f32([2, 3], 1), b: f32([2, 3], 1) });
  assert.deepEqual([...sum.data], [2, 2, 2, 2, 2, 2]);
});

test('the Rust core validates feeds too (bypassing the TypeScript checks)', async () => {
  const session = await InferenceSession.create(testModel('add_dynamic.onnx'));
  // A tensor-like object whose data does not match its dims slips past the wrapper's checks.
  const liar = { type: 'float32', dims: [2, 3], data: new Float32Array(5), size: 6 };
  await expectError(session.run({ a: liar, b: f32([2, 3]) }), 'INVALID_INPUT', "input 'a'", 'needs 24 bytes, got 20');
  await stillWorks();
});

test('run after release() is RELEASED; release is idempotent', async () => {
  const session = await InferenceSession.create(testModel('add_dynamic.onnx'));
  await session.release();
  await session.release();
  await expectError(session.run({ a: f32([1, 3]), b: f32([1, 3]) }), 'RELEASED', 'released');
  await stillWorks();
});

test('bad arguments are INVALID_ARGUMENT or FETCH_FAILED before touching wasm', async () => {
  await expectError(InferenceSession.create(42), 'INVALID_ARGUMENT', 'got number 42');
  await expectError(InferenceSession.create('/nonexistent/model.onnx'), 'FETCH_FAILED', '/nonexistent/model.onnx');
  await expectError(InferenceSession.create(new Uint8Array(1), { freeDimensionOverrides: [] }), 'INVALID_ARGUMENT');
  assert.throws(() => new Tensor('float32', new Float32Array(5), [2, 3]), { code: 'INVALID_ARGUMENT', message: /hold 6 elements, but the data has 5/ });
  assert.throws(() => new Tensor('float33', [1]), { code: 'INVALID_ARGUMENT', message: /unknown tensor type "float33"/ });
  assert.throws(() => new Tensor('int32', new Float32Array(2)), { code: 'INVALID_ARGUMENT', message: /needs its data as Int32Array/ });
  assert.throws(() => new Tensor('float32', [1, 2], [2, -1]), { code: 'INVALID_ARGUMENT', message: /non-negative integers/ });
  await stillWorks();
});

test('shapes read from input values work; a huge one is refused naming the node', async () => {
  const session = await InferenceSession.create(testModel('huge_intermediate.onnx'));
  const total = async (dims) => (await session.run({ shape: new Tensor('int64', dims) })).total.data[0];
  assert.equal(await total([3n, 4n]), 12);
  // 40 GB of float32 cannot exist in wasm32: a clean error before any allocation (tract meets
  // it as it prepares the model for these values, under the run's memory budget; the lite
  // engine as it runs).
  await expectError(
    total([100000n, 100000n]),
    byEngine('RESOURCE_LIMIT', 'RUNTIME_ERROR'),
    'fill',
    'ConstantOfShape',
    '[100000, 100000]',
    byEngine("over the session's memory budget", 'would have more than 268435456 elements'),
  );
  assert.equal(await total([2n, 5n]), 10);
  const huge = await InferenceSession.create(testModel('huge_declared.onnx'));
  assert.deepEqual(huge.inputMetadata[0].shape, [1e9, 1e9]);
  await expectError(huge.run({ x: f32([1, 1]) }), 'INVALID_INPUT', 'dimension 0 must be 1000000000');
  await stillWorks();
});

test('inputs past the module\'s memory are refused before a copy, or when the copy fails; the session goes on', async () => {
  const n = 90_000_000;
  const big = new Tensor('float32', new Float32Array(n * 3), [n, 3]);
  const small = async (session) => {
    const { sum } = await session.run({ a: f32([1, 3], 1), b: f32([1, 3], 1) });
    assert.deepEqual([...sum.data], [2, 2, 2]);
  };
  if (!onTract) {
    // The lite engine refuses a tensor of more than 2^28 elements before allocating it.
    const lite = await InferenceSession.create(testModel('add_dynamic.onnx'));
    assert.equal(lite.engine, 'lite');
    await expectError(lite.run({ a: big, b: big }), 'RUNTIME_ERROR', 'a tensor of shape [90000000, 3] would have more than 268435456 elements');
    await small(lite);
  }
  // tract takes it: 2 x 1.1 GB of inputs, copied into the module and then into tract, plus the
  // output. The default budget (2 GiB) refuses the second copy; with a budget past what wasm32
  // can hold, the allocation that fails is an error too, not a module crash.
  const build = env.wasm.build;
  env.wasm.build = 'tract';
  try {
    for (const [maxMemoryBytes, why] of [[undefined, 'cannot be copied into the engine'], [2 ** 42, 'failed to allocate']]) {
      const session = await InferenceSession.create(testModel('add_dynamic.onnx'), { maxMemoryBytes });
      assert.equal(session.engine, 'tract');
      await expectError(session.run({ a: big, b: big }), 'RESOURCE_LIMIT', why);
      await small(session);
    }
  } finally {
    env.wasm.build = build;
  }
  await stillWorks();
});

test('a crash loses only the crashing session: the others, of both engines, go on; new ones work', async () => {
  const build = env.wasm.build;
  const x = new Tensor('float32', [1, 2, 3], [1, 3]);
  const open = (engine) => {
    env.wasm.build = engine;
    return InferenceSession.create(testModel('add_dynamic.onnx'));
  };
  try {
    for (const engine of ['lite', 'tract']) {
      const before = await open(engine);
      const crashing = await open(engine);
      const other = await open(engine === 'lite' ? 'tract' : 'lite');
      memoryUsage(); // its first reading allocates a little in each instance
      const usage = memoryUsage();
      // A trap in the module: no model is known to make one, so the test hook traps on purpose.
      await expectError(crashing[Symbol.for('onnxlet.crashForTests')](), 'RUNTIME_ERROR', 'crashed while crashing on purpose', 'other sessions are not affected');
      await expectError(crashing.run({ a: x, b: x }), 'RELEASED', 'crashed');
      // The crashed instance left the memory accounts, and nothing else did.
      const after = memoryUsage();
      assert.ok(after.memoryBytes < usage.memoryBytes, engine);
      assert.ok(after.heapBytes < usage.heapBytes, engine);
      for (const session of [before, other, await open(engine)]) {
        assert.deepEqual(Array.from((await session.run({ a: x, b: x })).sum.data), [2, 4, 6], engine);
        await session.release();
      }
    }
  } finally {
    env.wasm.build = build;
  }
  await stillWorks();
});

test('an index out of bounds or a negative repeat count fed at run time is an error naming the node; the session goes on', async () => {
  const session = await InferenceSession.create(testModel('indices.onnx'));
  const i64 = (values, dims) => new Tensor('int64', values.map(BigInt), dims);
  const feeds = (changes = {}) => ({
    data: new Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => i), [3, 4]),
    gather: i64([2, -3], [2]),
    elements: i64([3, -1, 0], [3, 1]),
    nd: i64([1, -1], [1, 2]),
    scatter: i64([0, -1, 2], [3, 1]),
    updates: new Tensor('float32', [-1, -2, -3], [3, 1]),
    hot: i64([1, -1, 9], [3]),
    ...changes,
  });
  // onnxruntime's outputs for these feeds (scripts/make-test-models.py prints them).
  const expected = {
    gathered: [8, 9, 10, 11, 0, 1, 2, 3],
    elements_out: [3, 7, 8],
    nd_out: [7],
    scattered: [-1, 1, 2, 3, 4, 5, 6, -2, 8, 9, -3, 11],
    // OneHot: an index outside [-depth, depth - 1] gives a row of off values, as ONNX says.
    one_hot: [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
  };
  const runsRight = async () => {
    const outputs = await session.run(feeds());
    for (const [name, values] of Object.entries(expected)) assert.deepEqual([...outputs[name].data], values, name);
  };
  await runsRight();
  const bad = [
    ['gather', i64([3, 0], [2]), ['"gather_rows"', 'Gather index 3 is out of bounds for an axis of size 3', '-3 to 2']],
    ['gather', i64([0, -4], [2]), ['Gather index -4 is out of bounds']],
    ['elements', i64([0, 4, 0], [3, 1]), ['"gather_elements"', 'GatherElements index 4 is out of bounds for an axis of size 4']],
    ['nd', i64([1, 4], [1, 2]), ['"gather_nd"', 'GatherND index 4 is out of bounds for an axis of size 4']],
    ['nd', i64([-4, 0], [1, 2]), ['GatherND index -4 is out of bounds for an axis of size 3']],
    ['scatter', i64([0, -5, 0], [3, 1]), ['"scatter_elements"', 'ScatterElements index -5 is out of bounds for an axis of size 4']],
  ];
  for (const [input, value, fragments] of bad) {
    // Each was a panic, which crashed the module and released every session.
    await expectError(session.run(feeds({ [input]: value })), 'RUNTIME_ERROR', ...fragments);
    await runsRight();
  }
  // tract types this model per input values (the repeat counts): the error comes as it prepares.
  const tile = await InferenceSession.create(testModel('tile_repeats.onnx'));
  const tiled = (repeats) => tile.run({ data: feeds().data, repeats: i64(repeats, [2]) });
  assert.deepEqual([...(await tiled([1, 2])).tiled.dims], [3, 8]);
  await expectError(
    tiled([1, -2]),
    byEngine('INVALID_INPUT', 'RUNTIME_ERROR'),
    byEngine('"tile"', "Tile node 'tile'"),
    byEngine('Tile repeats must not be negative, got -2', 'repeat count -2 is not a valid size'),
  );
  assert.deepEqual([...(await tiled([2, 1])).tiled.dims], [6, 4]);
  await stillWorks();
});

test('operator arguments fed at run time that tract panicked on are errors naming the node; the session goes on', async () => {
  const session = await InferenceSession.create(testModel('arguments.onnx'));
  const i64 = (values) => new Tensor('int64', values.map(BigInt), [values.length]);
  const i32 = (values) => new Tensor('int32', Int32Array.from(values), [values.length]);
  const feeds = (changes = {}) => ({
    data: new Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => i), [3, 4]),
    condition: new Tensor('bool', [true, false, true], [3]),
    reduce_axes: i64([1]),
    unsqueeze_axes: i64([-1]),
    starts: i64([3]),
    ends: i64([0]),
    slice_axes: i64([1]),
    steps: i64([-2]),
    pads: i64([0, 1, 0, 2]),
    dividend: i32([7, -7, 9]),
    divisor: i32([2, 2, -4]),
    ...changes,
  });
  // onnxruntime's outputs for these feeds (scripts/make-test-models.py prints them).
  const expected = {
    compressed: [[2, 4], [0, 1, 2, 3, 8, 9, 10, 11]],
    reduced: [[3, 1], [6, 22, 38]],
    unsqueezed: [[3, 4, 1], Array.from({ length: 12 }, (_, i) => i)],
    sliced: [[3, 2], [3, 1, 7, 5, 11, 9]],
    padded: [[3, 7], [0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 7, 0, 0, 0, 8, 9, 10, 11, 0, 0]],
    quotient: [[3], [3, -3, -2]],
    remainder: [[3], [1, 1, -3]],
  };
  const runsRight = async () => {
    const outputs = await session.run(feeds());
    for (const [name, [dims, values]] of Object.entries(expected)) {
      assert.deepEqual([...outputs[name].dims], dims, name);
      assert.deepEqual([...outputs[name].data], values, name);
    }
  };
  await runsRight();
  const bad = [
    ['condition', new Tensor('bool', [true, false, true, true], [4]), '"compress_rows"', 'Compress condition has 4 values, more than the 3'],
    ['reduce_axes', i64([2]), '"reduce_sum"', 'rank and axis: 2 and 2'],
    ['unsqueeze_axes', i64([3]), '"unsqueeze_data"', 'Unsqueeze axis 3 is out of range for an output of rank 3'],
    ['steps', i64([0]), '"slice_data"', 'Slice step must not be zero'],
    ['pads', i64([0, -1, 0, 0]), '"pad_data"', 'Pad with a negative amount (-1, which crops) is not supported'],
    ['divisor', i32([2, 0, 1]), '"divide"', 'Div: integer division by zero'],
  ];
  // tract types this model per input values (they decide its shapes): the errors come as it
  // prepares, after the model ran on other values (INVALID_INPUT).
  for (const [input, value, ...fragments] of bad) {
    // Each was a panic, which crashed the module and released every session.
    await expectError(session.run(feeds({ [input]: value })), 'INVALID_INPUT', ...fragments);
    await runsRight();
  }
  await stillWorks();
});

test('silero-vad fed a chunk too short for its reflect padding is an error; its session goes on', async () => {
  const vad = loadIndex().models.find((m) => m.name === 'silero_vad');
  const session = await InferenceSession.create(join(modelsDir, vad.file));
  const feeds = (samples) => ({
    input: f32([1, samples], 0.1),
    state: f32([2, 1, 128]),
    sr: new Tensor('int64', [16000n], []),
  });
  // The model pads each chunk by 64 samples on the right, reflected: fewer than 65 samples cannot
  // be reflected (onnxruntime refuses them too). A short final chunk in the voice demo crashed the
  // module before, releasing every session. tract meets it while it prepares the model for the
  // chunk's shape: after a chunk of 512 samples ran, it is the input that does not fit, hence
  // INVALID_INPUT. The lite engine meets it as it runs the node.
  assert.equal(session.engine, byEngine('tract', 'lite'));
  const { output } = await session.run(feeds(512));
  assert.deepEqual([...output.dims], [1, 1]);
  assert.ok(output.data[0] >= 0 && output.data[0] <= 1, String(output.data[0]));
  for (const samples of [0, 1, 64]) {
    await expectError(
      session.run(feeds(samples)),
      byEngine('INVALID_INPUT', 'RUNTIME_ERROR'),
      byEngine(`the model cannot run on input shapes [1, ${samples}]`, "If node 'If_0'"),
      '/stft/padding/Pad',
      `Reflect padding of 0+64 needs at least 65 values along axis 1, the input has ${samples}`,
    );
  }
  assert.deepEqual([...(await session.run(feeds(512))).output.data], [...output.data]);
  // `sr` fed as a one-element tensor of shape [1], as onnxruntime accepts it: the same answer.
  const one = await session.run({ ...feeds(512), sr: new Tensor('int64', [16000n], [1]) });
  assert.deepEqual([...one.output.data], [...output.data]);
  await expectError(
    session.run({ ...feeds(512), sr: new Tensor('int64', [16000n, 8000n], [2]) }),
    'INVALID_INPUT',
    "input 'sr': expected rank 0",
  );
  await stillWorks();
});

test("models that break ONNX's rules are refused, naming the rule; onnxruntime refuses them too", async () => {
  const x = f32([2, 3], 1);
  const model = (nodes, opset = 17) =>
    graphModel({ nodes, inputs: [['x', 'float32', [2, 3]]], outputs: [['y', 'float32']], opset });
  const relu = (extra = {}) => ({ op: 'Relu', name: 'r', inputs: ['x'], outputs: ['y'], ...extra });
  // A node of a domain no engine implements ran as the default domain's Relu.
  await expectError(
    InferenceSession.create(model([relu({ domain: 'com.evil' })], [['', 17], ['com.evil', 1]])),
    'UNSUPPORTED_OPERATOR',
    "unsupported operator Relu at node 'r': its domain com.evil is none of ai.onnx, ai.onnx.ml, com.microsoft",
  );
  for (const version of [0, 999]) {
    await expectError(
      InferenceSession.create(model([relu()], version)),
      'INVALID_MODEL',
      `the model imports version ${version} of operator set ai.onnx (onnxlet knows versions 1 to 28)`,
    );
  }
  // Two nodes writing one value: which one the next node read was an accident of order.
  await expectError(
    InferenceSession.create(model([relu(), { op: 'Neg', name: 'n', inputs: ['x'], outputs: ['y'] }])),
    'INVALID_MODEL',
    "node 'n' writes value 'y', which is defined twice: node 'r' produces it too",
  );
  await expectError(
    InferenceSession.create(model([{ op: 'Neg', name: 'n', inputs: ['x'], outputs: ['x'] }, relu()])),
    'INVALID_MODEL',
    "node 'n' writes value 'x', which is defined twice: it is also an input or initializer of the graph",
  );
  // A Softmax axis outside -rank..rank returned its input unchanged on tract.
  for (const axis of [-99, 2]) {
    const session = await InferenceSession.create(
      model([{ op: 'Softmax', name: 'sm', inputs: ['x'], outputs: ['y'], attrs: { axis } }], 13),
    );
    await expectError(
      session.run({ x }),
      byEngine('INVALID_MODEL', 'RUNTIME_ERROR'),
      byEngine('"sm"', "'sm'"),
      `axis ${axis} is out of range`,
    );
  }
  await stillWorks();
});
