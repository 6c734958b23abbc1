// env.wasm.numThreads in Node, which has no Web Workers: sessions run on one thread, in this
// thread's module, and a value above 1 is reported once, with the reason; a malformed value is
// an INVALID_ARGUMENT.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InferenceSession, Tensor, env } from 'onnxlet';

import { testModel } from '../support/models.mjs';

const add = async () => {
  const session = await InferenceSession.create(testModel('add_dynamic.onnx'));
  const a = new Tensor('float32', [1, 2, 3], [1, 3]);
  const { sum } = await session.run({ a, b: a });
  await session.release();
  return [...sum.data];
};

test('numThreads above 1 in Node runs on one thread and says why, once', async (t) => {
  const warnings = [];
  t.mock.method(console, 'warn', (message) => warnings.push(message));
  env.wasm.numThreads = 4;
  try {
    assert.deepEqual(await add(), [2, 4, 6]);
    assert.deepEqual(await add(), [2, 4, 6]);
  } finally {
    env.wasm.numThreads = undefined;
  }
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0], /numThreads is 4, but this runtime has no Web Workers .*running on 1 thread/);
});

test('a malformed numThreads is an INVALID_ARGUMENT that names it', async () => {
  for (const value of [-1, 1.5, '2', Number.NaN]) {
    env.wasm.numThreads = value;
    try {
      await assert.rejects(InferenceSession.create(testModel('add_dynamic.onnx')), (error) => {
        assert.equal(error.code, 'INVALID_ARGUMENT');
        assert.match(error.message, /env\.wasm\.numThreads must be a non-negative integer/);
        return true;
      });
    } finally {
      env.wasm.numThreads = undefined;
    }
  }
  assert.deepEqual(await add(), [2, 4, 6]);
});
