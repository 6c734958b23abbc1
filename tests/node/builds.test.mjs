// The two builds: the default module (dist/onnxlet_bg.wasm, loaded in this process) and the full
// one (dist/onnxlet_full_bg.wasm, loaded in child processes with env.wasm.build = 'full'): what
// each accepts, and the default build's pointer to the full one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { InferenceSession, OnnxletError, Tensor, env, supportedOperators } from 'onnxlet';

import { singleNodeModel } from '../support/onnx-proto.mjs';
import { root, testModel } from '../support/models.mjs';

/** Runs `body` (an async module body with `onnxlet` imported) in a fresh Node; returns its JSON output. */
function inFreshNode(body) {
  const script = `import * as onnxlet from 'onnxlet';\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

const key = (o) => `${o.domain}::${o.name}`;

/** The operators of the full build, and how it runs tests/models/dft.onnx (run once, on first use). */
let fullRun;
const fullBuild = () => (fullRun ??= inFreshNode(`
  onnxlet.env.wasm.build = 'full';
  const operators = await onnxlet.supportedOperators();
  const session = await onnxlet.InferenceSession.create(${JSON.stringify(testModel('dft.onnx'))});
  const x = new onnxlet.Tensor('float32', Float32Array.from({ length: 8 }, (_, i) => i), [1, 8, 1]);
  const { y } = await session.run({ x });
  console.log(JSON.stringify({ operators, dft: { dims: y.dims, data: Array.from(y.data) } }));
`));

/** The operators listed in src/full_build.rs. */
function fullOnlyList() {
  const source = readFileSync(join(root, 'src', 'full_build.rs'), 'utf8');
  const list = source.match(/FULL_ONLY_OPERATORS: &\[&str\] = &\[([\s\S]*?)\];/)[1];
  return [...list.matchAll(/"(\w+)"/g)].map((m) => m[1]).sort();
}

test("env.wasm.build = 'full' loads onnxlet_full_bg.wasm, which has every operator of the default build and more", async () => {
  const full = fullBuild();
  // The tract engine's operators (the lite engine has some tract lacks: LpPool, Upsample).
  const defaults = (await supportedOperators()).filter((o) => o.engines.includes('tract'));
  const fullKeys = new Set(full.operators.map(key));
  assert.deepEqual(defaults.map(key).filter((k) => !fullKeys.has(k)), [], 'operators of the default build missing from the full one');
  for (const op of ['ai.onnx::DFT', 'ai.onnx::STFT', 'ai.onnx::HannWindow', 'ai.onnx::Attention', 'ai.onnx.ml::TreeEnsembleClassifier']) {
    assert.ok(fullKeys.has(op), `${op} is not in the full build`);
    assert.ok(!defaults.some((o) => key(o) === op), `${op} is in the default build`);
  }
  // The DFT of 0..7 against its definition: X[k] = sum x[n] e^(-2πikn/8).
  assert.deepEqual(full.dft.dims, [1, 8, 2]);
  for (let k = 0; k < 8; k++) {
    let [re, im] = [0, 0];
    for (let n = 0; n < 8; n++) {
      re += n * Math.cos((-2 * Math.PI * k * n) / 8);
      im += n * Math.sin((-2 * Math.PI * k * n) / 8);
    }
    assert.ok(Math.abs(full.dft.data[2 * k] - re) < 1e-4, `X[${k}].re = ${full.dft.data[2 * k]}, expected ${re}`);
    assert.ok(Math.abs(full.dft.data[2 * k + 1] - im) < 1e-4, `X[${k}].im = ${full.dft.data[2 * k + 1]}, expected ${im}`);
  }
});

test('the default build names the full build for every operator only the full build has', async (t) => {
  const defaults = new Set((await supportedOperators()).filter((o) => o.engines.includes('tract')).map(key));
  const fullOnly = fullBuild().operators.filter((o) => !defaults.has(key(o)));
  const names = fullOnly.map((o) => o.name).sort();
  assert.deepEqual(
    fullOnlyList(),
    names,
    `src/full_build.rs must list the full build's operators that the default build lacks:\n${names.map((n) => `    "${n}",`).join('\n')}`,
  );
  // On tract: the lite engine, tried first by default, has the scikit-learn ones.
  env.wasm.build = 'tract';
  t.after(() => {
    env.wasm.build = 'auto';
  });
  for (const { domain, name } of fullOnly) {
    const model = singleNodeModel(name, domain === 'ai.onnx' ? {} : { domain, opset: 3 });
    const error = await InferenceSession.create(model).then(() => assert.fail(`${name} loaded`), (e) => e);
    assert.ok(error instanceof OnnxletError, String(error));
    assert.equal(error.code, 'UNSUPPORTED_OPERATOR', error.message);
    assert.match(error.message, new RegExp(`^unsupported operator ${name} \\(domain ${domain.replaceAll('.', '\\.')}, opset \\d+\\) at node 'node'`));
    assert.ok(
      error.message.includes(`. ${name} is only in onnxlet's full build (onnxlet_full_bg.wasm: set env.wasm.build = 'full'; docs/api.md#the-engines-and-their-modules)`),
      error.message,
    );
    const lite = `. The lite engine runs ${name} (env.wasm.build 'auto', the default, or 'lite'; docs/api.md#scikit-learn-models)`;
    assert.equal(error.message.endsWith(lite), domain === 'ai.onnx.ml', error.message);
  }
});

test('the real DFT model is rejected by the default build with the hint; unknown operators get none', async () => {
  await assert.rejects(InferenceSession.create(testModel('dft.onnx')), (error) => {
    assert.equal(error.code, 'UNSUPPORTED_OPERATOR');
    assert.equal(
      error.message,
      "unsupported operator DFT (domain ai.onnx, opset 17) at node 'dft'. DFT is only in onnxlet's full build " +
        "(onnxlet_full_bg.wasm: set env.wasm.build = 'full'; docs/api.md#the-engines-and-their-modules)",
    );
    return true;
  });
  await assert.rejects(InferenceSession.create(testModel('unsupported_op.onnx')), (error) => {
    assert.equal(error.code, 'UNSUPPORTED_OPERATOR');
    assert.doesNotMatch(error.message, /full build/);
    return true;
  });
  // The default build still runs models.
  const session = await InferenceSession.create(testModel('two_outputs.onnx'));
  const { doubled } = await session.run({ x: new Tensor('float32', [1, 2, 3, 4], [2, 2]) });
  assert.deepEqual([...doubled.data], [2, 4, 6, 8]);
});

test("env.wasm.build accepts only 'auto', 'lite', 'tract' (or 'default', its old name) and 'full'", () => {
  const result = inFreshNode(`
    onnxlet.env.wasm.build = 'fat';
    const error = await onnxlet.supportedOperators().catch((e) => e);
    onnxlet.env.wasm.build = 'default';
    const after = (await onnxlet.supportedOperators()).some((o) => o.name === 'DFT');
    console.log(JSON.stringify({ code: error.code, message: error.message, after }));
  `);
  assert.deepEqual(result, {
    code: 'INVALID_ARGUMENT',
    message: `env.wasm.build must be 'auto', 'lite', 'tract' or 'full', not "fat"`,
    after: false,
  });
});
