// The memory budget (issue 31, class 4): a tensor that would take the module's heap over the
// session's `maxMemoryBytes` (2 GiB by default) is refused with RESOURCE_LIMIT, naming the node,
// the tensor and the budget, before it is allocated. The module does not crash: sessions opened
// before still run, and new ones load.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { InferenceSession, Tensor, memoryUsage } from 'onnxlet';

import { budgetDir, budgetModels } from '../support/budget-models.mjs';
import { testModel } from '../support/models.mjs';

const expandTwice = budgetModels.expand_twice;
const expandFeeds = (rows, cols) => ({
  x: new Tensor('float32', [1.5], [1]),
  s: new Tensor('int64', [BigInt(rows), BigInt(cols)], [2]),
});
const addFeeds = () => ({
  a: new Tensor('float32', [1, 2, 3, 4, 5, 6], [2, 3]),
  b: new Tensor('float32', [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [2, 3]),
});
const MB = 1e6;

/** The add model (opened before a failure) and the expand one still give their exact outputs. */
async function stillRuns(session, expand) {
  const { sum } = await session.run(addFeeds());
  assert.deepEqual([...sum.data], [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]);
  const { y } = await expand.run(expandFeeds(2, 3));
  assert.deepEqual(y.dims, [2, 3]);
  assert.deepEqual([...y.data], [3, 3, 3, 3, 3, 3]);
}

test('the budget models in tests/models/budget are up to date', () => {
  for (const [name, bytes] of Object.entries(budgetModels)) {
    assert.deepEqual(readFileSync(join(budgetDir, `${name}.onnx`)), Buffer.from(bytes), name);
  }
});

test('a tensor over the budget is refused before it is allocated, naming its node', async () => {
  const opened = await InferenceSession.create(testModel('add_dynamic.onnx'));
  const expand = await InferenceSession.create(expandTwice, { maxMemoryBytes: 256 * 2 ** 20 });
  await stillRuns(opened, expand);
  const before = memoryUsage();
  // A [16384, 16384] float32 tensor (2^28 elements, 1.07 GB) against a 256 MiB budget.
  await assert.rejects(expand.run(expandFeeds(16384, 16384)), {
    name: 'OnnxletError',
    code: 'RESOURCE_LIMIT',
    message:
      /^Expand node 'square': needs a \[16384, 16384\] float32 tensor \(1\.1 GB\), over the session's memory budget \(maxMemoryBytes = 268435456; [\d.]+ [kM]B in use\)$/,
  });
  const after = memoryUsage();
  // (The first error of an instance leaves about 200 bytes of lazily created state.)
  assert.ok(after.heapBytes - before.heapBytes < 1024, `the failed run left ${after.heapBytes - before.heapBytes} bytes on the heap`);
  assert.ok(after.memoryBytes - before.memoryBytes < 16 * MB, `memory grew by ${after.memoryBytes - before.memoryBytes} bytes`);
  await stillRuns(opened, expand);
  await stillRuns(await InferenceSession.create(testModel('add_dynamic.onnx')), await InferenceSession.create(expandTwice));
});

test('the default budget (2 GiB) stops the second 1 GB tensor; the module does not crash', async () => {
  const opened = await InferenceSession.create(testModel('add_dynamic.onnx'));
  const expand = await InferenceSession.create(expandTwice);
  const before = memoryUsage();
  // Expand's 1.07 GB fits; Add's second one would take the heap over 2 GiB.
  await assert.rejects(expand.run(expandFeeds(16384, 16384)), {
    code: 'RESOURCE_LIMIT',
    message:
      /^Add node 'twice': needs a \[16384, 16384\] float32 tensor \(1\.1 GB\), over the session's memory budget \(maxMemoryBytes = 2147483648; 1\.1 GB in use\)$/,
  });
  const after = memoryUsage();
  // (Each session's instance keeps about 200 bytes of lazily created state from its first error.)
  assert.ok(after.heapBytes - before.heapBytes < 1024, `the failed run left ${after.heapBytes - before.heapBytes} bytes: not its first tensor`);
  const grown = after.memoryBytes - before.memoryBytes;
  assert.ok(grown < 1.2e9, `memory grew by ${grown} bytes: by the first tensor only`);
  // More than the lite engine allows in one tensor (20000² > 2^28 elements) is refused by that
  // limit, before any allocation.
  await assert.rejects(expand.run(expandFeeds(20000, 20000)), { code: 'RUNTIME_ERROR', message: /'square'.*268435456 elements/ });
  assert.equal(memoryUsage().memoryBytes, after.memoryBytes);
  await stillRuns(opened, expand);
  await stillRuns(await InferenceSession.create(testModel('add_dynamic.onnx')), await InferenceSession.create(expandTwice));
});

test('a small budget refuses a normal run; a large enough one runs it', async () => {
  const tight = await InferenceSession.create(testModel('add_dynamic.onnx'), { maxMemoryBytes: 1024 });
  await assert.rejects(tight.run(addFeeds()), {
    code: 'RESOURCE_LIMIT',
    message: /over the session's memory budget \(maxMemoryBytes = 1024;/,
  });
  const roomy = await InferenceSession.create(testModel('add_dynamic.onnx'), { maxMemoryBytes: 2 ** 40 });
  const { sum } = await roomy.run(addFeeds());
  assert.deepEqual([...sum.data], [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]);
});

test('maxMemoryBytes must be a positive integer', async () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity, '1000000', 10n ** 9n, null]) {
    await assert.rejects(InferenceSession.create(testModel('add_dynamic.onnx'), { maxMemoryBytes: bad }), {
      name: 'OnnxletError',
      code: 'INVALID_ARGUMENT',
      message: /^maxMemoryBytes must be a positive integer \(bytes\), got /,
    });
  }
});
