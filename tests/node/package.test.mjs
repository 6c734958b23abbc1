// The package as users get it: `npm pack`, install the tarball in an empty project, import it
// the way users do (ESM in Node, `require` in CommonJS, types under `tsc --strict`), with nothing
// on stderr.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { features, magikaDir } from '../support/magika.mjs';
import { root, testModel } from '../support/models.mjs';

const work = mkdtempSync(join(tmpdir(), 'onnxlet-package-'));
const consumer = join(work, 'consumer');

function sh(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r;
}

before(() => {
  sh('npm', ['pack', '--silent', '--pack-destination', work], root);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  sh('mkdir', ['-p', consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  sh('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, tarball)], consumer);
});

after(() => rmSync(work, { recursive: true, force: true }));

test('the packed package ships only the build outputs', () => {
  const files = readdirSync(join(consumer, 'node_modules', 'onnxlet', 'dist')).sort();
  assert.deepEqual(files, [
    ...['cache', 'create-options', 'env', 'errors', 'index', 'inference-session', 'memory'].flatMap((m) => [`${m}.d.cts`, `${m}.d.ts`]),
    'onnxlet.cjs', 'onnxlet.min.js', 'onnxlet.mjs', 'onnxlet.threads.worker.mjs', 'onnxlet.worker.mjs', 'onnxlet_bg.wasm', 'onnxlet_full_bg.wasm',
    'onnxlet_lite_bg.wasm', 'onnxlet_lite_relaxed_bg.wasm', 'onnxlet_lite_threads_bg.wasm', 'onnxlet_lite_threads_relaxed_bg.wasm',
    'onnxlet_relaxed_bg.wasm', 'onnxlet_threads_bg.wasm', 'onnxlet_threads_relaxed_bg.wasm',
    ...['operators', 'source', 'tensor'].flatMap((m) => [`${m}.d.cts`, `${m}.d.ts`]),
  ]);
});

test('a consumer picks the full build by its package export or by env.wasm.build', () => {
  for (const pick of [
    "env.wasm.wasmPaths = import.meta.resolve('onnxlet/onnxlet_full_bg.wasm');",
    "env.wasm.build = 'full';",
  ]) {
    writeFileSync(
      join(consumer, 'full.mjs'),
      `import { InferenceSession, env, supportedOperators } from 'onnxlet';
       ${pick}
       const dft = (await supportedOperators()).some((o) => o.name === 'DFT');
       const session = await InferenceSession.create(${JSON.stringify(testModel('dft.onnx'))});
       console.log(JSON.stringify({ dft, outputs: session.outputNames }));`,
    );
    const r = sh(process.execPath, ['full.mjs'], consumer);
    assert.deepEqual(JSON.parse(r.stdout), { dft: true, outputs: ['y'] }, pick);
    assert.equal(r.stderr, '');
  }
});

test('an ESM consumer imports it and runs a model, with nothing on stderr', () => {
  writeFileSync(
    join(consumer, 'main.mjs'),
    `import { InferenceSession, Tensor } from 'onnxlet';
     const session = await InferenceSession.create(${JSON.stringify(testModel('two_outputs.onnx'))});
     const { doubled } = await session.run({ x: new Tensor('float32', [1, 2, 3, 4], [2, 2]) });
     console.log(JSON.stringify(Array.from(doubled.data)));`,
  );
  const r = sh(process.execPath, ['main.mjs'], consumer);
  assert.equal(r.stdout.trim(), '[2,4,6,8]');
  assert.equal(r.stderr, '');
});

/**
 * A script that runs magika on one input with the module `onnxlet` (`require`d or imported), then
 * loads a model the lite engine cannot run, and prints the scores and engines as JSON.
 */
function magikaScript(load) {
  const input = features(readFileSync(join(root, 'README.md')));
  return `${load}
    (async () => {
      const session = await InferenceSession.create(${JSON.stringify(join(magikaDir, 'model.onnx'))});
      const input = new Tensor('int32', ${JSON.stringify(input)}, [1, ${input.length}]);
      const { target_label: scores } = await session.run({ bytes: input });
      const tract = await InferenceSession.create(${JSON.stringify(testModel('all_dtypes.onnx'))});
      console.log(JSON.stringify({ engines: [session.engine, tract.engine], scores: Array.from(scores.data) }));
    })();`;
}

test('a CommonJS consumer requires it where Node cannot require ESM (before 20.19), with the ESM results', () => {
  // --no-experimental-require-module: Node 20.0–20.18, where require() of an ES module throws.
  const old = ['--no-experimental-require-module'];
  const esmOnly = spawnSync(process.execPath, [...old, '-e', "require(require.resolve('onnxlet').replace(/cjs$/, 'mjs'))"], { cwd: consumer, encoding: 'utf8' });
  assert.match(esmOnly.stderr, /ERR_REQUIRE_ESM/, 'the flag makes require() of ESM fail, as Node before 20.19 does');
  writeFileSync(join(consumer, 'main.cjs'), magikaScript("const { InferenceSession, Tensor } = require('onnxlet');"));
  writeFileSync(join(consumer, 'esm.mjs'), magikaScript("import { InferenceSession, Tensor } from 'onnxlet';"));
  const cjs = sh(process.execPath, [...old, 'main.cjs'], consumer);
  assert.equal(cjs.stderr, '');
  const esm = sh(process.execPath, ['esm.mjs'], consumer);
  const [fromCjs, fromEsm] = [JSON.parse(cjs.stdout), JSON.parse(esm.stdout)];
  assert.deepEqual(fromCjs.engines, ['lite', 'tract']);
  assert.equal(fromCjs.scores.length, 214);
  assert.deepEqual(fromCjs, fromEsm);
});

test('its CommonJS types check where TypeScript cannot require ESM (--module node16)', () => {
  writeFileSync(
    join(consumer, 'main.cts'),
    `import { InferenceSession, Tensor, env, type WasmCode } from 'onnxlet';
     const code: WasmCode = new Uint8Array(8);
     env.wasm.wasmBinary = { lite: code };
     export async function main(): Promise<string> {
       const session = await InferenceSession.create('model.onnx');
       const { y } = await session.run({ x: new Tensor('float32', [1], [1]) });
       return y.type;
     }`,
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  sh(process.execPath, [tsc, '--strict', '--noEmit', '--target', 'es2022', '--module', 'node16', '--moduleResolution', 'node16', '--lib', 'es2022,dom', 'main.cts'], consumer);
});

test('its types check under tsc --strict', () => {
  writeFileSync(
    join(consumer, 'main.ts'),
    `import { InferenceSession, Tensor, OnnxletError, env, type ErrorCode } from 'onnxlet';
     env.wasm.wasmPaths = '/static/';
     env.wasm.build = 'full';
     async function main(): Promise<number> {
       const session: InferenceSession = await InferenceSession.create('model.onnx', { freeDimensionOverrides: { N: 1 } });
       const meta: InferenceSession.ValueMetadata = session.inputMetadata[0];
       const t = new Tensor('int64', new BigInt64Array(2), [2]);
       const data: BigInt64Array = t.data;
       const outputs: InferenceSession.ReturnType = await session.run({ [meta.name]: t }, [session.outputNames[0]]);
       try { await session.release(); } catch (e) { if (e instanceof OnnxletError) { const c: ErrorCode = e.code; console.log(c); } }
       return data.length + Object.keys(outputs).length;
     }
     void main;`,
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  sh(process.execPath, [tsc, '--strict', '--noEmit', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', 'main.ts'], consumer);
});

test('the built JS never evaluates strings (it runs under a CSP without unsafe-eval)', () => {
  for (const file of ['onnxlet.mjs', 'onnxlet.cjs', 'onnxlet.min.js', 'onnxlet.worker.mjs', 'onnxlet.threads.worker.mjs']) {
    const code = readFileSync(join(consumer, 'node_modules', 'onnxlet', 'dist', file), 'utf8');
    assert.doesNotMatch(code, /\beval\s*\(/, `${file} calls eval`);
    assert.doesNotMatch(code, /\bnew\s+Function\b/, `${file} calls new Function`);
  }
});
