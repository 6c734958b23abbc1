// Every real model fetched by scripts/fetch-models.py, through the built package in Node,
// against its reference outputs (relative error ≤ 1e-4, same top-1 for classifiers).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';

import * as onnxlet from 'onnxlet';

import { checkModel } from '../support/compare.mjs';
import { loadIndex, modelsDir, readModelFile, root } from '../support/models.mjs';

const index = loadIndex();
const timings = [];
const agreement = {};

test('the model cache holds the 14 pinned models', () => {
  assert.deepEqual(index.models.map((m) => m.name).sort(), [
    'bvlc_alexnet', 'densenet121', 'inception_v1', 'inception_v2', 'magika', 'minilm', 'ppocr_cls', 'ppocr_det',
    'resnet50', 'shufflenet', 'silero_vad', 'squeezenet', 'vgg19', 'zfnet512',
  ]);
});

for (const model of index.models) {
  test(`${model.name} matches its reference outputs`, async () => {
    const started = performance.now();
    const session = await onnxlet.InferenceSession.create(join(modelsDir, model.file));
    const loadMs = performance.now() - started;
    assert.deepEqual(session.inputNames, model.inputs.map((i) => i.name));
    assert.deepEqual(session.outputNames, model.outputs.map((o) => o.name));
    for (const [ix, meta] of session.inputMetadata.entries()) {
      assert.equal(meta.type, model.inputs[ix].type);
      assert.equal(meta.shape.length, model.inputs[ix].shape.length);
    }
    const results = await checkModel(onnxlet, session, model, readModelFile);
    for (const r of results) assert.deepEqual(r.failures, [], `${model.name} case ${r.case}`);
    agreement[model.name] = summarise(results);
    timings.push({
      model: model.name,
      'model bytes': model.bytes,
      'load ms': Math.round(loadMs),
      'first run ms': Math.round(results[0].ms),
      'max rel error': Math.max(...results.map((r) => r.maxError)).toExponential(1),
    });
    await session.release();
  });
}

/** Per output, over all cases: the worst errors, and top-1/top-5 agreement counts. */
function summarise(results) {
  const outputs = {};
  for (const e of results.flatMap((r) => r.errors)) {
    const o = (outputs[e.output] ??= { maxAbs: 0, maxRel: 0, cases: 0 });
    o.maxAbs = Math.max(o.maxAbs, e.maxAbs);
    o.maxRel = Math.max(o.maxRel, e.maxRel);
    o.cases++;
    for (const k of ['top1', 'top5']) {
      if (!e[k]) continue;
      o[k] ??= { agree: 0, rows: 0 };
      o[k].agree += e[k].agree;
      o[k].rows += e[k].rows;
    }
  }
  return outputs;
}

after(() => {
  if (Object.keys(agreement).length === index.models.length) {
    const dir = join(root, '.cache', 'conformance');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'models-wasm.json'), `${JSON.stringify({ run: 'wasm', models: agreement }, null, 2)}\n`);
  }
  if (timings.length) {
    console.log('\nNode (wasm, 1 thread): load and run times');
    console.table(timings);
  }
});
