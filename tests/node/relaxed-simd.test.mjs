// The relaxed-SIMD modules (dist/onnxlet_lite_relaxed_bg.wasm, dist/onnxlet_relaxed_bg.wasm):
// chosen by WebAssembly.validate unless env.wasm.relaxedSimd says otherwise, and as accurate as
// the plain modules on real models, for each engine (the children set env.wasm.build). Node 20
// has relaxed SIMD only behind --experimental-wasm-relaxed-simd, so each case runs in a child
// Node with or without that flag, pointed (env.wasm.wasmPaths) at a directory holding only one
// of the two modules: the child succeeds only if it chose that one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';

import { root } from '../support/models.mjs';

const FLAG = '--experimental-wasm-relaxed-simd';
/** The probe js/module-config.ts validates: one function with `i8x16.relaxed_swizzle`. */
const PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15,
  253, 128, 2, 11,
]);

const work = mkdtempSync(join(tmpdir(), 'onnxlet-relaxed-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A directory with only dist/`file` in it. */
function only(file) {
  const dir = join(work, file.replace('.wasm', ''));
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(root, 'dist', file), join(dir, file));
  return `${pathToFileURL(dir).href}/`;
}

/**
 * Runs the models `names` against their reference outputs in a child Node (with `flags`),
 * loading the module from `wasmPaths` after `setup`; returns { failures } or { error }.
 */
function runModels({ build, flags, wasmPaths, setup = '', names }) {
  const support = (f) => JSON.stringify(pathToFileURL(join(root, 'tests', 'support', f)).href);
  const script = `
    import { join } from 'node:path';
    import * as onnxlet from 'onnxlet';
    import { checkModel } from ${support('compare.mjs')};
    import { loadIndex, modelsDir, readModelFile } from ${support('models.mjs')};
    onnxlet.env.wasm.wasmPaths = ${JSON.stringify(wasmPaths)};
    onnxlet.env.wasm.build = ${JSON.stringify(build)};
    ${setup}
    const index = loadIndex();
    try {
      const failures = {};
      for (const name of ${JSON.stringify(names)}) {
        const model = index.models.find((m) => m.name === name);
        const session = await onnxlet.InferenceSession.create(join(modelsDir, model.file));
        failures[name] = (await checkModel(onnxlet, session, model, readModelFile)).flatMap((r) => r.failures);
        await session.release();
      }
      console.log(JSON.stringify({ failures }));
    } catch (error) {
      console.log(JSON.stringify({ error: { code: error.code, message: error.message } }));
    }
  `;
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

/** Each engine's plain module and its relaxed-SIMD twin. */
const ENGINES = [
  { build: 'lite', plain: 'onnxlet_lite_bg.wasm', relaxed: 'onnxlet_lite_relaxed_bg.wasm' },
  { build: 'tract', plain: 'onnxlet_bg.wasm', relaxed: 'onnxlet_relaxed_bg.wasm' },
];

for (const { build, plain, relaxed } of ENGINES) {
  test(`${build}: where relaxed SIMD validates, ${relaxed} loads, within the reference tolerances`, () => {
    const outcome = runModels({
      build,
      flags: [FLAG],
      wasmPaths: only(relaxed),
      names: ['magika', 'minilm', 'squeezenet', 'ppocr_cls'],
    });
    assert.deepEqual(outcome, { failures: { magika: [], minilm: [], squeezenet: [], ppocr_cls: [] } });
  });

  test(`${build}: env.wasm.relaxedSimd = false loads ${plain} even where relaxed SIMD validates`, () => {
    const outcome = runModels({
      build,
      flags: [FLAG],
      wasmPaths: only(plain),
      setup: 'onnxlet.env.wasm.relaxedSimd = false;',
      names: ['squeezenet'],
    });
    assert.deepEqual(outcome, { failures: { squeezenet: [] } });
    const missing = runModels({
      build,
      flags: [FLAG],
      wasmPaths: only(relaxed),
      setup: 'onnxlet.env.wasm.relaxedSimd = false;',
      names: ['squeezenet'],
    });
    assert.equal(missing.error?.code, 'FETCH_FAILED', JSON.stringify(missing));
    const dir = relaxed.replace('.wasm', '');
    assert.match(missing.error.message, new RegExp(`${dir}/${plain.replace('.', '\\.')}: ENOENT`));
  });

  test(`${build}: without relaxed SIMD, ${plain} loads; forcing the relaxed module names the setting`, (t) => {
    if (WebAssembly.validate(PROBE)) {
      t.skip(`this Node (${process.version}) has relaxed SIMD without a flag`);
      return;
    }
    assert.deepEqual(runModels({ build, flags: [], wasmPaths: only(plain), names: ['squeezenet'] }), {
      failures: { squeezenet: [] },
    });
    const forced = runModels({
      build,
      flags: [],
      wasmPaths: only(relaxed),
      setup: 'onnxlet.env.wasm.relaxedSimd = true;',
      names: ['squeezenet'],
    });
    assert.equal(forced.error?.code, 'WASM_LOAD_FAILED', JSON.stringify(forced));
    assert.match(forced.error.message, /env\.wasm\.relaxedSimd is true/);
  });
}
