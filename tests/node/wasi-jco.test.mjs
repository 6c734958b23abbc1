// onnxlet's WebAssembly component (dist/wasi/onnxlet-component.wasm, docs/wasi.md) in Node through
// jco (examples/js-jco, whose dependencies scripts/setup.mjs installs): transpiled, then run on
// the real models against their stored references (onnxruntime's, the ONNX backend's for squeezenet);
// and the example's command line.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { maxAbsError, relativeError, typedArray } from '../support/compare.mjs';
import { loadIndex, modelsDir, root } from '../support/models.mjs';

const example = join(root, 'examples', 'js-jco');
const component = join(root, 'dist', 'wasi', 'onnxlet-component.wasm');

const inference = await (async () => {
  if (!existsSync(component)) throw new Error(`${component} is missing: run \`node scripts/build.mjs --module wasi\``);
  if (!existsSync(join(example, 'node_modules', '.bin', 'jco'))) {
    throw new Error('examples/js-jco has no node_modules: run `npm install` there (npm test does it)');
  }
  execFileSync('npm', ['run', '--silent', 'transpile'], { cwd: example, stdio: 'inherit' });
  return (await import(pathToFileURL(join(example, 'component', 'onnxlet.js')).href)).inference;
})();

const read = (file) => new Uint8Array(readFileSync(join(modelsDir, file)));

for (const name of ['magika', 'squeezenet']) {
  test(`${name} through the component matches the stored reference outputs`, () => {
    const model = loadIndex().models.find((m) => m.name === name);
    const session = inference.Session.load(read(model.file), []);
    assert.deepEqual(
      session.inputs().map((i) => [i.name, i.dtype]),
      model.inputs.map((i) => [i.name, i.type]),
    );
    for (const c of model.cases) {
      const feeds = c.inputs.map((i) => [i.name, { dtype: i.type, shape: BigUint64Array.from(i.dims, BigInt), data: read(i.file) }]);
      const outputs = session.run(feeds);
      assert.deepEqual(outputs.map(([n]) => n), c.outputs.map((o) => o.name));
      for (const [k, expected] of c.outputs.entries()) {
        const [, got] = outputs[k];
        assert.equal(got.dtype, expected.type);
        assert.deepEqual([...got.shape].map(Number), expected.dims);
        const [actual, want] = [typedArray(got.dtype, got.data), typedArray(expected.type, read(expected.file))];
        assert.ok(
          relativeError(actual, want) <= model.rtol || maxAbsError(actual, want) <= model.atol,
          `${name}: relative error ${relativeError(actual, want)}, absolute ${maxAbsError(actual, want)}`,
        );
      }
    }
    session[Symbol.dispose]();
  });
}

test('errors come back with onnxlet codes, and the instance survives them', () => {
  assert.equal(inference.engine(), 'tract');
  assert.throws(() => inference.Session.load(new Uint8Array([8, 7, 1, 2, 3]), []), (e) => e.payload?.code === 'invalid-model');
  const session = inference.Session.load(read('magika/model.onnx'), []);
  const feed = (dims, dtype = 'int32') => [['bytes', { dtype, shape: BigUint64Array.from(dims, BigInt), data: new Uint8Array(4 * dims[0] * dims[1]) }]];
  assert.throws(() => session.run(feed([1, 1000])), (e) => e.payload?.code === 'invalid-input' && /'bytes'.*1000/.test(e.payload.message));
  assert.throws(() => session.run(feed([1, 2048], 'float32')), (e) => e.payload?.code === 'invalid-input' && /float32/.test(e.payload.message));
  assert.deepEqual([...session.run(feed([1, 2048]))[0][1].shape], [1n, 214n]);
});

test('the example labels files', () => {
  const files = ['scripts/wasmtime_run.py', 'package.json', 'src/lib.rs'];
  const out = execFileSync(process.execPath, [join(example, 'identify.mjs'), ...files], { cwd: root, encoding: 'utf8' });
  // The same labels tests/wasi/test_component.py checks against onnxruntime.
  assert.deepEqual(
    out.trim().split('\n').map((line) => line.replace(/ \(.*\)$/, '')),
    files.map((f, i) => `${f}: ${['python', 'json', 'rust'][i]}`),
  );
});
