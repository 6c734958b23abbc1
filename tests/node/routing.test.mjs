// How a session picks its engine. With env.wasm.build = 'auto' (the default) a model loads on the
// lite module; one the lite engine cannot run (UNSUPPORTED_OPERATOR at load) loads on the tract
// module instead, which is read only then. A forced build uses its one module.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { InferenceSession, Tensor, supportedOperators } from 'onnxlet';

import { root, testModel } from '../support/models.mjs';

/** Runs `body` (an async module body with `onnxlet` imported) in a fresh Node; returns its JSON output. */
function inFreshNode(body) {
  const script = `import * as onnxlet from 'onnxlet';\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

const x = () => new Tensor('float32', [1, 2, 3, 4], [2, 2]);

test('a model the lite engine runs loads on it by default', async () => {
  const session = await InferenceSession.create(testModel('two_outputs.onnx'));
  assert.equal(session.engine, 'lite');
  const { doubled } = await session.run({ x: x() });
  assert.deepEqual([...doubled.data], [2, 4, 6, 8]);
});

test('a model with a dtype the lite engine lacks loads on tract, with its integrity checked once', async () => {
  const bytes = readFileSync(testModel('all_dtypes.onnx'));
  const integrity = `sha256-${createHash('sha256').update(bytes).digest('base64')}`;
  const session = await InferenceSession.create(bytes, { integrity });
  assert.equal(session.engine, 'tract');
  const f16 = new Tensor('float16', new Uint16Array([0x3c00, 0xc000]), [2]);
  const feeds = Object.fromEntries(
    session.inputMetadata.map((m) => [m.name, m.type === 'float16' ? f16 : new Tensor(m.type, m.type === 'string' ? ['a', 'b'] : m.type.endsWith('64') && m.type !== 'float64' ? [1n, 2n] : m.type === 'bool' ? [true, false] : [1, 2], [2])]),
  );
  const outputs = await session.run(feeds);
  assert.deepEqual([...outputs[`${session.inputMetadata.find((m) => m.type === 'float16').name}_out`].data], [0x3c00, 0xc000]);
  // The lite engine is still the default for the next model.
  assert.equal((await InferenceSession.create(testModel('two_outputs.onnx'))).engine, 'lite');
});

test('the tract module is read only for a model that needs it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnxlet-lite-only-'));
  copyFileSync(join(root, 'dist', 'onnxlet_lite_bg.wasm'), join(dir, 'onnxlet_lite_bg.wasm'));
  const result = inFreshNode(`
    onnxlet.env.wasm.wasmPaths = ${JSON.stringify(`${dir}/`)};
    const lite = await onnxlet.InferenceSession.create(${JSON.stringify(testModel('two_outputs.onnx'))});
    const { doubled } = await lite.run({ x: new onnxlet.Tensor('float32', [1, 2, 3, 4], [2, 2]) });
    const error = await onnxlet.InferenceSession.create(${JSON.stringify(testModel('all_dtypes.onnx'))}).catch((e) => e);
    console.log(JSON.stringify({ engine: lite.engine, doubled: [...doubled.data], code: error.code, message: error.message }));
  `);
  assert.equal(result.engine, 'lite');
  assert.deepEqual(result.doubled, [2, 4, 6, 8]);
  assert.equal(result.code, 'FETCH_FAILED', result.message);
  assert.match(result.message, /^input '\w+' is \w+, which the lite build does not compute with/);
  assert.match(result.message, /; and the tract module, which could run it, failed to load: cannot read .*onnxlet_(relaxed_)?bg\.wasm/);
});

test("env.wasm.build = 'lite' refuses what only tract runs; 'tract' (or 'default') skips the lite engine", () => {
  const result = inFreshNode(`
    const outcome = {};
    for (const build of ['lite', 'tract', 'default']) {
      onnxlet.env.wasm.build = build;
      const session = await onnxlet.InferenceSession.create(${JSON.stringify(testModel('two_outputs.onnx'))});
      const error = await onnxlet.InferenceSession.create(${JSON.stringify(testModel('all_dtypes.onnx'))}).then((s) => s.engine, (e) => e.code + ': ' + e.message);
      outcome[build] = { engine: session.engine, allDtypes: error };
    }
    console.log(JSON.stringify(outcome));
  `);
  assert.equal(result.lite.engine, 'lite');
  assert.match(result.lite.allDtypes, /^UNSUPPORTED_OPERATOR: input '\w+' is \w+, which the lite build does not compute with .*The tract engine runs it/);
  assert.deepEqual(result.tract, { engine: 'tract', allDtypes: 'tract' });
  assert.deepEqual(result.default, { engine: 'tract', allDtypes: 'tract' });
});

test('a model neither engine runs is refused with the tract engine’s message', async () => {
  await assert.rejects(InferenceSession.create(testModel('unsupported_op.onnx')), (error) => {
    assert.equal(error.code, 'UNSUPPORTED_OPERATOR');
    assert.match(error.message, /^unsupported operator FrobnicateTensor \(domain ai\.onnx, opset 13\) at node 'weird_node'/);
    assert.doesNotMatch(error.message, /lite/);
    return true;
  });
});

test('supportedOperators() says which engine has each operator', async () => {
  const operators = await supportedOperators();
  const find = (name) => operators.find((o) => o.domain === 'ai.onnx' && o.name === name);
  assert.deepEqual(find('Conv').engines, ['lite', 'tract']);
  assert.deepEqual(find('Conv').opsets?.length, 2, 'tract verified Conv in the node tests');
  const tractOnly = operators.filter((o) => o.engines.length === 1 && o.engines[0] === 'tract');
  assert.ok(tractOnly.length > 0, 'the tract engine has operators the lite one lacks');
  assert.ok(operators.every((o) => o.engines.length > 0));
  const sorted = [...operators].sort((a, b) => (a.domain + '\u0000' + a.name < b.domain + '\u0000' + b.name ? -1 : 1));
  assert.deepEqual(operators.map((o) => o.name), sorted.map((o) => o.name));
});

/** Runs each case's setting of `env.wasm` in a fresh Node, in turn, then creates a session of its model. */
function wasmBinaryCases(cases) {
  const read = (file) => `new Uint8Array(fs.readFileSync(${JSON.stringify(join(root, 'dist', file))}))`;
  const code = (text) => text.replaceAll('LITE', read('onnxlet_lite_bg.wasm')).replaceAll('TRACT', read('onnxlet_bg.wasm'));
  return inFreshNode(`
    const fs = await import('node:fs');
    const { env, InferenceSession } = onnxlet;
    const outcome = {};
    ${Object.entries(cases).map(([name, [setup, model]]) => `
      for (const key of Object.keys(env.wasm)) delete env.wasm[key];
      ${code(setup)}
      outcome.${name} = await InferenceSession.create(${JSON.stringify(testModel(`${model}.onnx`))}).then(
        (session) => session.engine,
        (e) => e.code + ': ' + e.message,
      );`).join('\n')}
    console.log(JSON.stringify(outcome));
  `);
}

test('env.wasm.wasmBinary by engine: only the modules given, in routing order', () => {
  const result = wasmBinaryCases({
    notCode: ["env.wasm.wasmBinary = { lite: 'onnxlet_lite_bg.wasm' };", 'two_outputs'],
    unknownKey: ['env.wasm.wasmBinary = { full: new Uint8Array(8) };', 'two_outputs'],
    empty: ['env.wasm.wasmBinary = {};', 'two_outputs'],
    string: ["env.wasm.wasmBinary = 'onnxlet_lite_bg.wasm';", 'two_outputs'],
    forcedTract: ["env.wasm.wasmBinary = { lite: LITE }; env.wasm.build = 'tract';", 'two_outputs'],
    liteOnly: ['env.wasm.wasmBinary = { lite: LITE };', 'all_dtypes'],
    liteGiven: ['env.wasm.wasmBinary = { lite: LITE };', 'two_outputs'],
    both: ['env.wasm.wasmBinary = { lite: LITE, tract: TRACT };', 'all_dtypes'],
  });
  assert.match(result.notCode, /^INVALID_ARGUMENT: env\.wasm\.wasmBinary must be .*: its lite is \[object String\]$/);
  assert.match(result.unknownKey, /^INVALID_ARGUMENT: .*: "full" is no engine \(lite or tract\)$/);
  assert.match(result.empty, /^INVALID_ARGUMENT: .*: it gives none$/);
  assert.match(result.string, /^INVALID_ARGUMENT: .*, not onnxlet_lite_bg\.wasm$/);
  assert.match(result.forcedTract, /^INVALID_ARGUMENT: env\.wasm\.build is 'tract', whose module env\.wasm\.wasmBinary does not give \(it gives lite\)$/);
  // Nothing is fetched for a module not given: the lite engine's refusal stands.
  assert.match(result.liteOnly, /^UNSUPPORTED_OPERATOR: /);
  assert.equal(result.liteGiven, 'lite');
  assert.equal(result.both, 'tract');
});

test('env.wasm.wasmBinary by engine: a module given as the other engine is refused, for good', () => {
  const result = wasmBinaryCases({
    swapped: ['env.wasm.wasmBinary = { tract: LITE };', 'two_outputs'],
    fixedTooLate: ['env.wasm.wasmBinary = { tract: TRACT };', 'two_outputs'],
  });
  const refusal = /^INVALID_ARGUMENT: env\.wasm\.wasmBinary\.tract is not the tract engine's module \(it holds the lite engine; .*lasts until the program restarts\)/;
  assert.match(result.swapped, refusal);
  assert.match(result.fixedTooLate, refusal);
});
