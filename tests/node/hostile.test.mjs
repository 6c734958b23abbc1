// Hostile tiny models (issue 31, tests/support/hostile-models.mjs) through the real module: each is
// an OnnxletError naming the problem and the node, or the exact answer; never a panic, which
// crashes the module and releases every open session (checked with a session opened before),
// nor a wrong answer. This file runs the default (tract) build; hostile-lite.test.mjs sets
// ONNXLET_BUILD=lite and imports it (env.wasm is read once, at the first module load).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import * as onnxlet from 'onnxlet';

import { cases, hostileDir, slug } from '../support/hostile-models.mjs';
import { testModel } from '../support/models.mjs';

const build = process.env.ONNXLET_BUILD ?? 'default';
onnxlet.env.wasm.build = build;

const tensor = ([type, values, dims]) =>
  new onnxlet.Tensor(type, type === 'int64' ? BigInt64Array.from(values, BigInt) : Float32Array.from(values), dims);

/** A session opened before each case and run after it: a crash would have released it. */
async function witness() {
  const session = await onnxlet.InferenceSession.create(testModel('two_outputs.onnx'));
  return async () => {
    const { doubled } = await session.run({ x: new onnxlet.Tensor('float32', [1, 2, 3, 4], [2, 2]) });
    assert.deepEqual([...doubled.data], [2, 4, 6, 8]);
    await session.release();
  };
}

for (const c of cases) {
  test(`${build}: ${c.name}`, async () => {
    const stillWorks = await witness();
    const feeds = Object.fromEntries(Object.entries(c.feeds).map(([k, v]) => [k, tensor(v)]));
    const outcome = await onnxlet.InferenceSession.create(c.model).then(
      (session) => session.run(feeds),
      (error) => ({ error }),
    ).catch((error) => ({ error }));
    if (c.exact) {
      assert.ok(!outcome.error, `expected a result, got ${outcome.error}`);
      for (const [name, [dims, values]] of Object.entries(c.exact)) {
        assert.deepEqual([...outcome[name].dims], dims, name);
        assert.deepEqual([...outcome[name].data], values, name);
      }
    } else if (c.engines?.[build] === 'unsupported') {
      // The lite build lacks the operator: it says so, naming the node.
      assert.ok(outcome.error instanceof onnxlet.OnnxletError, `not an OnnxletError: ${outcome.error}`);
      assert.equal(outcome.error.code, 'UNSUPPORTED_OPERATOR', outcome.error.message);
      assert.match(outcome.error.message, new RegExp(`'${c.node}'`));
    } else {
      const { error } = outcome;
      assert.ok(error, `expected an error, got outputs ${Object.entries(outcome).map(([k, t]) => `${k} [${t.dims}]`)}`);
      assert.ok(error instanceof onnxlet.OnnxletError, `not an OnnxletError: ${error}`);
      // A model defect found while loading or preparing it, or a failure while running: never
      // the crash report (also a RUNTIME_ERROR).
      assert.ok(['INVALID_MODEL', 'RUNTIME_ERROR'].includes(error.code), `${error.code}: ${error.message}`);
      assert.doesNotMatch(error.message, /crashed|internal error/);
      assert.match(error.message, new RegExp(`\\b${c.node}\\b`), 'the message names the node');
      assert.match(error.message, c.error);
    }
    await stillWorks();
  });
}

test(`${build}: tests/models/hostile/ holds the models of hostile-models.mjs (node tests/support/write-hostile-models.mjs)`, () => {
  for (const c of cases) {
    assert.deepEqual(readFileSync(join(hostileDir, `${slug(c.name)}.onnx`)), Buffer.from(c.model), c.name);
  }
});
