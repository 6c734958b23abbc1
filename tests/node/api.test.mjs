// The public API on the small generated models: metadata, symbolic dimensions, overrides,
// every dtype, fetches, sources, and lazy shared initialisation.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';

import { InferenceSession, OnnxletError, Tensor, env, supportedOperators } from 'onnxlet';

import { root, testModel } from '../support/models.mjs';

const add = (n, offset = 0) => new Tensor('float32', Float32Array.from({ length: n * 3 }, (_, i) => i + offset), [n, 3]);

test('metadata follows onnxruntime-web, with symbolic dims as strings', async () => {
  const session = await InferenceSession.create(testModel('add_dynamic.onnx'));
  assert.deepEqual(session.inputNames, ['a', 'b']);
  assert.deepEqual(session.outputNames, ['sum']);
  assert.deepEqual(session.inputMetadata[0], { name: 'a', isTensor: true, type: 'float32', shape: ['N', 3] });
  assert.deepEqual(session.outputMetadata[0], { name: 'sum', isTensor: true, type: 'float32', shape: ['N', 3] });
  assert.ok(Object.isFrozen(session.inputMetadata));
});

test('a symbolic batch runs with different sizes on one session', async () => {
  const session = await InferenceSession.create(testModel('add_dynamic.onnx'));
  for (const n of [1, 4, 2]) {
    const { sum } = await session.run({ a: add(n), b: add(n, 100) });
    assert.deepEqual(sum.dims, [n, 3]);
    assert.equal(sum.type, 'float32');
    assert.deepEqual([...sum.data], Array.from({ length: n * 3 }, (_, i) => 2 * i + 100));
  }
});

test('two symbolic dims (batch, sequence) vary independently', async () => {
  const session = await InferenceSession.create(testModel('matmul_seq.onnx'));
  assert.deepEqual(session.inputMetadata[0].shape, ['batch', 'seq', 4]);
  for (const [b, s] of [[1, 3], [2, 9], [5, 1]]) {
    const { y } = await session.run({ x: new Tensor('float32', new Float32Array(b * s * 4).fill(1), [b, s, 4]) });
    assert.deepEqual(y.dims, [b, s, 2]);
    for (let i = 0; i < y.size; i += 2) {
      assert.ok(Math.abs(y.data[i] - 1.2) < 1e-5 && Math.abs(y.data[i + 1] - 1.6) < 1e-5);
    }
  }
});

test('freeDimensionOverrides pins a symbol at load', async () => {
  const session = await InferenceSession.create(testModel('add_dynamic.onnx'), { freeDimensionOverrides: { N: 2 } });
  assert.deepEqual(session.inputMetadata[0].shape, [2, 3]);
  const { sum } = await session.run({ a: add(2), b: add(2) });
  assert.deepEqual(sum.dims, [2, 3]);
  await assert.rejects(session.run({ a: add(3), b: add(3) }), { code: 'INVALID_INPUT', message: /dimension 0 must be 2/ });
  await assert.rejects(InferenceSession.create(testModel('add_dynamic.onnx'), { freeDimensionOverrides: { batch: 1 } }), {
    code: 'INVALID_ARGUMENT',
    message: /'batch'.*N/,
  });
  await assert.rejects(InferenceSession.create(testModel('add_dynamic.onnx'), { freeDimensionOverrides: { N: -1 } }), {
    code: 'INVALID_ARGUMENT',
    message: /freeDimensionOverrides.N must be a non-negative integer/,
  });
});

test('every dtype round-trips through the module', async () => {
  const session = await InferenceSession.create(testModel('all_dtypes.onnx'));
  const values = {
    f32: new Tensor('float32', [1.5, -2.25]),
    f64: new Tensor('float64', [Math.PI, -1e300]),
    f16: new Tensor('float16', new Uint16Array([0x3c00, 0xc000])),
    i8: new Tensor('int8', [-128, 127]),
    u8: new Tensor('uint8', [0, 255]),
    i16: new Tensor('int16', [-32768, 32767]),
    u16: new Tensor('uint16', [0, 65535]),
    i32: new Tensor('int32', [-2147483648, 2147483647]),
    u32: new Tensor('uint32', [0, 4294967295]),
    i64: new Tensor('int64', [-(2n ** 63n), 2n ** 63n - 1n]),
    u64: new Tensor('uint64', [0n, 2n ** 64n - 1n]),
    b: new Tensor('bool', [true, false]),
    s: new Tensor('string', ['', 'héllo wörld 😀']),
  };
  assert.deepEqual(session.inputNames, Object.keys(values));
  const outputs = await session.run(values);
  for (const [name, input] of Object.entries(values)) {
    const out = outputs[`${name}_out`];
    assert.equal(out.type, input.type, name);
    assert.equal(out.data.constructor, input.data.constructor, name);
    assert.deepEqual([...out.data], [...input.data], name);
  }
});

test('string tensors: an array of strings, checked, through the module and back', async () => {
  const inferred = new Tensor(['a', 'bc', '', 'd']);
  assert.equal(inferred.type, 'string');
  assert.deepEqual(inferred.dims, [4]);
  assert.throws(() => new Tensor('string', ['a', 2], [2]), {
    code: 'INVALID_ARGUMENT',
    message: /array of strings, got number 2 at index 1/,
  });
  assert.throws(() => new Tensor('string', new Uint8Array(2), [2]), { code: 'INVALID_ARGUMENT', message: /array of strings/ });
  assert.throws(() => new Tensor('string', ['a'], [2]), { code: 'INVALID_ARGUMENT', message: /hold 2 elements, but the data has 1/ });

  const session = await InferenceSession.create(testModel('all_dtypes.onnx'));
  assert.equal(session.inputMetadata.find((m) => m.name === 's').type, 'string');
  const feeds = Object.fromEntries(
    session.inputMetadata.map((m) => [m.name, m.type === 'string' ? new Tensor('string', ['x', 'y'].reverse()) : new Tensor(m.type, [0, 1])]),
  );
  const big = 'ü'.repeat(100_000);
  feeds.s = new Tensor('string', [big, '\u0000nul'], [2]);
  const { s_out } = await session.run(feeds);
  assert.deepEqual(s_out.data, [big, '\u0000nul']);
  feeds.s = new Tensor('float32', [1, 2]);
  await assert.rejects(session.run(feeds), { code: 'INVALID_INPUT', message: /input 's'.*string.*float32|float32.*string/ });
  // A string tensor whose array was changed after construction is caught before the module.
  const changed = new Tensor('string', ['a', 'b']);
  changed.data[1] = 7;
  feeds.s = changed;
  await assert.rejects(session.run(feeds), { code: 'INVALID_INPUT', message: /number 7 at index 1/ });
});

test('fetches pick and order outputs; Tensor API', async () => {
  const session = await InferenceSession.create(testModel('two_outputs.onnx'));
  const x = new Tensor(new Float32Array([1, -2, 3, 0.5]), [2, 2]);
  assert.equal(x.type, 'float32');
  assert.equal(x.size, 4);
  const only = await session.run({ x }, ['negated']);
  assert.deepEqual(Object.keys(only), ['negated']);
  assert.deepEqual([...(await only.negated.getData())], [-1, 2, -3, -0.5]);
  const both = await session.run({ x }, { doubled: null, negated: null });
  assert.deepEqual([...both.doubled.data], [2, -4, 6, 1]);
  both.doubled.dispose();
  assert.throws(() => both.doubled.data, { code: 'RELEASED' });
});

test('a model loads from a path, a file URL, bytes, an ArrayBuffer, a Blob and a Response', async () => {
  const path = testModel('two_outputs.onnx');
  const bytes = await readFile(path);
  const sources = [
    path,
    pathToFileURL(path),
    new Uint8Array(bytes),
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    new Blob([bytes]),
    new Response(bytes),
  ];
  for (const source of sources) {
    const session = await InferenceSession.create(source);
    assert.deepEqual(session.outputNames, ['doubled', 'negated']);
  }
});

test('importing does nothing; concurrent first calls share one initialisation', () => {
  // In a fresh process: the wasm path points at a server that counts requests.
  const script = `
    import { createServer } from 'node:http';
    import { readFileSync } from 'node:fs';
    const wasmRequests = [];
    const server = createServer((req, res) => {
      const file = req.url.split('/').pop();
      wasmRequests.push(file);
      res.writeHead(200, { 'content-type': 'application/wasm' }).end(readFileSync(${JSON.stringify(`${root}/dist/`)} + file));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const onnxlet = await import('onnxlet');
    onnxlet.env.wasm.wasmPaths = 'http://127.0.0.1:' + server.address().port + '/';
    await new Promise((r) => setTimeout(r, 50));
    const afterImport = [...wasmRequests];
    const model = readFileSync(${JSON.stringify(testModel('two_outputs.onnx'))});
    await Promise.all([1, 2, 3].map(() => onnxlet.InferenceSession.create(new Uint8Array(model))));
    console.log(JSON.stringify({ afterImport, afterCreate: wasmRequests }));
    server.close();
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // Only the lite module: the model runs on it, so the tract module is never fetched.
  assert.deepEqual(JSON.parse(r.stdout.trim()), { afterImport: [], afterCreate: ['onnxlet_lite_bg.wasm'] });
});

test('env exposes the version; errors are OnnxletError instances', async () => {
  const { version } = JSON.parse(await readFile(`${root}/package.json`, 'utf8'));
  assert.equal(env.versions.onnxlet, version);
  const error = await InferenceSession.create(new Uint8Array([1, 2, 3])).catch((e) => e);
  assert.ok(error instanceof OnnxletError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'OnnxletError');
});

test('supportedOperators() lists the registry the loader checks, with verified opsets', async () => {
  const operators = await supportedOperators();
  assert.ok(operators.length > 150, `only ${operators.length} operators`);
  const find = (domain, name) => operators.find((o) => o.domain === domain && o.name === name);
  assert.deepEqual(find('ai.onnx', 'Conv'), { domain: 'ai.onnx', name: 'Conv', opsets: [22, 22], engines: ['lite', 'tract'] });
  // The ai.onnx.ml operators of scikit-learn models are in the lite engine (and some in tract's
  // full build, tests/node/builds.test.mjs).
  assert.deepEqual(find('ai.onnx.ml', 'TreeEnsembleRegressor'), { domain: 'ai.onnx.ml', name: 'TreeEnsembleRegressor', opsets: null, engines: ['lite'] });
  assert.deepEqual(find('ai.onnx.ml', 'SVMClassifier'), { domain: 'ai.onnx.ml', name: 'SVMClassifier', opsets: null, engines: ['lite'] });
  assert.equal(find('ai.onnx.ml', 'DictVectorizer'), undefined);
  assert.equal(find('ai.onnx', 'FrobnicateTensor'), undefined);
  const key = (o) => [o.domain, o.name];
  const before = (a, b) => key(a)[0] < key(b)[0] || (key(a)[0] === key(b)[0] && key(a)[1] < key(b)[1]);
  operators.slice(1).forEach((o, i) => assert.ok(before(operators[i], o), `${o.name} out of order`));
  // Every operator of the unsupported-operator test model but FrobnicateTensor is accepted;
  // the one rejected at load is exactly the one missing from this list.
  await assert.rejects(InferenceSession.create(testModel('unsupported_op.onnx')), { code: 'UNSUPPORTED_OPERATOR' });
});
