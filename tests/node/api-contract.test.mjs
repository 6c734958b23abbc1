// The API's contract with hostile or careless JavaScript values (issue 31, class 5): every
// misuse ends in an OnnxletError naming it (or the caller's own error), never a TypeError from
// inside the wrapper, a lost result, a run that reads changed data, or a leaked session.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { InferenceSession, OnnxletError, Tensor, memoryUsage } from 'onnxlet';

import { graphModel } from '../support/onnx-proto.mjs';
import { testModel } from '../support/models.mjs';

const scratch = mkdtempSync(join(tmpdir(), 'onnxlet-contract-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const f32 = (values, dims = [values.length]) => new Tensor('float32', Float32Array.from(values), dims);

async function rejectsWith(promise, code, fragment) {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e) => e,
  );
  assert.ok(error instanceof OnnxletError, `not an OnnxletError: ${error}`);
  assert.equal(error.code, code, error.message);
  assert.match(error.message, fragment);
  return error;
}

/** x (float32 [3]) -> Neg -> an output named `name`. */
const negModel = (name) =>
  graphModel({
    nodes: [{ op: 'Neg', name: 'neg', inputs: ['x'], outputs: [name] }],
    inputs: [['x', 'float32', [3]]],
    outputs: [[name, 'float32', [3]]],
  });

test('an output named __proto__ is an own property of the result, not its prototype', async () => {
  const session = await InferenceSession.create(negModel('__proto__'));
  assert.deepEqual(session.outputNames, ['__proto__']);
  const result = await session.run({ x: f32([1, 2, 3]) });
  assert.ok(Object.hasOwn(result, '__proto__'));
  assert.deepEqual(Object.keys(result), ['__proto__']);
  assert.deepEqual([...result['__proto__'].data], [-1, -2, -3]);
  assert.equal(Object.getPrototypeOf(result), Object.prototype);
  await session.release();
});

test('a key inherited from Object.prototype does not supply a missing input', async () => {
  const session = await InferenceSession.create(negModel('y'));
  Object.prototype.x = f32([1, 2, 3]);
  try {
    await rejectsWith(session.run({}), 'INVALID_INPUT', /missing input 'x'/);
  } finally {
    delete Object.prototype.x;
  }
  await session.release();
});

test('a run reads its inputs when run() is called: changing them afterwards changes nothing', async () => {
  const session = await InferenceSession.create(negModel('y'));
  const x = f32([1, 2, 3]);
  const running = session.run({ x });
  x.data.fill(100);
  const { y } = await running;
  assert.deepEqual([...y.data], [-1, -2, -3]);
  await session.release();
});

test('a detached input buffer and a Proxy of a Tensor are INVALID_INPUT', async () => {
  const session = await InferenceSession.create(negModel('y'));
  const x = f32([1, 2, 3]);
  structuredClone(x.data.buffer, { transfer: [x.data.buffer] });
  await rejectsWith(session.run({ x }), 'INVALID_INPUT', /input 'x'/);
  const proxy = new Proxy(f32([1, 2, 3]), {});
  await rejectsWith(session.run({ x: proxy }), 'INVALID_INPUT', /input 'x' cannot be read as a tensor/);
  // A tensor-like object whose getter throws: its error, wrapped, names the input.
  const hostile = {
    type: 'float32',
    dims: [3],
    get data() {
      throw new RangeError('no data for you');
    },
  };
  await rejectsWith(session.run({ x: hostile }), 'INVALID_INPUT', /input 'x'/);
  const { y } = await session.run({ x: f32([1, 2, 3]) });
  assert.deepEqual([...y.data], [-1, -2, -3]);
  await session.release();
});

test('a directory or a FIFO given as the model path is FETCH_FAILED, at once', async () => {
  await rejectsWith(InferenceSession.create(scratch), 'FETCH_FAILED', /it is a directory/);
  const fifo = join(scratch, 'model.fifo');
  execFileSync('mkfifo', [fifo]);
  // Opening a FIFO waits for a writer: before, creation never settled, even after an abort.
  await rejectsWith(InferenceSession.create(fifo), 'FETCH_FAILED', /not a regular file/);
});

test('an onProgress that throws fails creation with its error, and frees the session', async () => {
  const model = testModel('two_outputs.onnx');
  const failAt = async (status) => {
    const thrown = new Error(`onProgress failed at ${status}`);
    const error = await InferenceSession.create(model, {
      onProgress: (event) => {
        if (event.status === status) throw thrown;
      },
    }).then(
      () => assert.fail('created'),
      (e) => e,
    );
    assert.equal(error, thrown);
  };
  const statuses = ['download', 'compile', 'ready'];
  for (const status of statuses) await failAt(status);
  // What one open session of the model holds.
  const start = memoryUsage().heapBytes;
  const open = await InferenceSession.create(model);
  const sessionBytes = memoryUsage().heapBytes - start;
  await open.release();
  const before = memoryUsage().heapBytes;
  for (let i = 0; i < 5; i++) for (const status of statuses) await failAt(status);
  // Fifteen failed creates: a session kept by each would hold fifteen times that. (The module's
  // own caches may grow once by a few bytes.)
  const grown = memoryUsage().heapBytes - before;
  assert.ok(grown < sessionBytes, `the heap grew by ${grown} bytes; one session holds ${sessionBytes}`);
});

test("a response declaring 2 GB and sending 1 KB fails without reserving the declared size", async () => {
  const { createServer } = await import('node:http');
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-length': String(2_000_000_000) });
    response.write(new Uint8Array(1024));
    setTimeout(() => response.destroy(), 50);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    // The module is loaded first, so that only this create's reservation is measured.
    await (await InferenceSession.create(negModel('y'))).release();
    const before = memoryUsage().memoryBytes;
    await rejectsWith(InferenceSession.create(`http://127.0.0.1:${server.address().port}/model.onnx`), 'FETCH_FAILED', /model/);
    const grown = memoryUsage().memoryBytes - before;
    // At most the bound on what a declared size reserves (256 MiB), not the 2 GB declared.
    assert.ok(grown <= 260 * 2 ** 20, `the module's memory grew by ${grown} bytes`);
  } finally {
    server.close();
  }
});
