// The lite module (dist/onnxlet_lite_bg.wasm, env.wasm.build = 'lite': onnxlet's own interpreter
// instead of tract) in Node: every pinned real model against its reference outputs, and its
// errors. Node runs each test file in its own process, so this one loads only the lite module.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import * as onnxlet from 'onnxlet';

import { checkModel } from '../support/compare.mjs';
import { loadIndex, modelsDir, readModelFile, testModel } from '../support/models.mjs';

onnxlet.env.wasm.build = 'lite';

const index = loadIndex();

for (const model of index.models) {
  test(`lite: ${model.name} matches its reference outputs`, async () => {
    const session = await onnxlet.InferenceSession.create(join(modelsDir, model.file));
    const results = await checkModel(onnxlet, session, model, readModelFile);
    for (const r of results) assert.deepEqual(r.failures, [], `${model.name} case ${r.case}`);
    await session.release();
  });
}

test('lite: the module is the lite one, and an unsupported operator is named; the next session works', async () => {
  const operators = await onnxlet.supportedOperators();
  const names = operators.map((o) => o.name);
  assert.ok(names.includes('Conv') && names.includes('Softmax'), names.join(', '));
  assert.ok(!names.includes('DFT') && !names.includes('Loop'), 'the lite build lists tract-only operators');
  assert.ok(operators.every((o) => o.opsets === null), "the lite build claims the tract builds' node-test opsets");
  await assert.rejects(onnxlet.InferenceSession.create(testModel('unsupported_op.onnx')), (error) => {
    assert.equal(error.code, 'UNSUPPORTED_OPERATOR');
    assert.match(error.message, /^unsupported operator FrobnicateTensor \(domain ai\.onnx, opset 13\) at node 'weird_node' in the lite build/);
    return true;
  });
  await assert.rejects(onnxlet.InferenceSession.create(new Uint8Array([8, 7, 18, 3, 1, 2])), (error) => {
    assert.equal(error.code, 'INVALID_MODEL');
    return true;
  });
  const session = await onnxlet.InferenceSession.create(testModel('two_outputs.onnx'));
  await assert.rejects(session.run({ x: new onnxlet.Tensor('float32', [1, 2, 3], [3]) }), (error) => {
    assert.equal(error.code, 'INVALID_INPUT');
    assert.match(error.message, /input 'x'/);
    return true;
  });
  const { doubled, negated } = await session.run({ x: new onnxlet.Tensor('float32', [1, 2, 3, 4], [2, 2]) });
  assert.deepEqual([...doubled.data], [2, 4, 6, 8]);
  assert.deepEqual([...negated.data], [-1, -2, -3, -4]);
});
