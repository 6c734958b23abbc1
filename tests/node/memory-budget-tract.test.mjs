// The memory budget (issue 31, class 4) on the tract engine (env.wasm.build = 'tract'): tract
// checks each node's outputs before it computes them (src/engine/mod.rs, eval_within_budget),
// and no longer computes a fed shape's expansion while it prepares the plan (vendor/, fold
// bound), so a tensor over maxMemoryBytes is refused with RESOURCE_LIMIT naming its node, and
// the same session then runs a small input.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InferenceSession, Tensor, env, memoryUsage } from 'onnxlet';

import { budgetModels } from '../support/budget-models.mjs';

env.wasm.build = 'tract';

const expandFeeds = (rows, cols) => ({
  x: new Tensor('float32', [1.5], [1]),
  s: new Tensor('int64', [BigInt(rows), BigInt(cols)], [2]),
});

test('tract: a tensor over the budget is refused naming its node; the session runs on', async () => {
  const session = await InferenceSession.create(budgetModels.expand_twice, { maxMemoryBytes: 256 * 2 ** 20 });
  assert.equal(session.engine, 'tract');
  const small = async () => {
    const { y } = await session.run(expandFeeds(2, 3));
    assert.deepEqual(y.dims, [2, 3]);
    assert.deepEqual([...y.data], [3, 3, 3, 3, 3, 3]);
  };
  await small();
  const before = memoryUsage();
  // A [16384, 16384] float32 tensor (2^28 elements, 1.07 GB) against a 256 MiB budget.
  await assert.rejects(session.run(expandFeeds(16384, 16384)), {
    name: 'OnnxletError',
    code: 'RESOURCE_LIMIT',
    message: /node 'square' .*\[16384, 16384\] float32 tensor \(1\.1 GB\), over the session's memory budget \(maxMemoryBytes = 268435456;/,
  });
  const grown = memoryUsage().memoryBytes - before.memoryBytes;
  assert.ok(grown < 64e6, `memory grew by ${grown} bytes: the tensor was allocated`);
  await small();
  await session.release();
});

test('tract: an output whose copy out of the engine would go over the budget is refused', async () => {
  // y = Expand(x, s): the output and the copy handed to JS are held at once. A [8192, 8192]
  // float32 output is 256 MiB, and 512 MiB with its copy, against a budget of 384 MiB.
  const session = await InferenceSession.create(budgetModels.expand_out, { maxMemoryBytes: 384 * 2 ** 20 });
  await assert.rejects(session.run(expandFeeds(8192, 8192)), {
    name: 'OnnxletError',
    code: 'RESOURCE_LIMIT',
    message: /output of shape \[8192, 8192\] \(268\.4 MB\) cannot be copied out of the engine, over the session's memory budget \(maxMemoryBytes = 402653184;/,
  });
  const { y } = await session.run(expandFeeds(2, 3));
  assert.deepEqual([...y.data], [1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
  await session.release();
});
