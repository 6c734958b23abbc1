// The ONNX backend node tests through the built wasm module in Node. Writes
// .cache/conformance/results-wasm.json, fails when a case of tests/conformance/expected-pass.txt
// no longer passes, prints new passes, and checks that native and wasm runs agree.
// It runs the full build (every operator); with ONNXLET_BUILD=default (conformance-default.test.mjs)
// the default build, where an expected case must pass or be rejected as needing the full build;
// with ONNXLET_BUILD=lite (conformance-lite.test.mjs) the lite engine, against its own list
// (expected-pass-lite.txt) and its native run.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import * as onnxlet from 'onnxlet';

import { typedArray } from '../support/compare.mjs';
import { root } from '../support/models.mjs';

const casesDir = process.env.ONNXLET_NODE_TESTS_DIR ?? join(root, '.cache', 'onnx-node-tests');
const resultsDir = join(root, '.cache', 'conformance');
const FLOATS = new Set(['float32', 'float64', 'float16']);
const build = process.env.ONNXLET_BUILD ?? 'full';
onnxlet.env.wasm.build = build;
const full = build === 'full';
const lite = build === 'lite';
/** This build's list of cases that must pass, and the native run it must agree with. */
const { list, native: nativeResults, wasm: wasmResults } = lite
  ? { list: 'expected-pass-lite.txt', native: 'results-lite.json', wasm: 'results-wasm-lite.json' }
  : { list: 'expected-pass.txt', native: 'results-native.json', wasm: 'results-wasm.json' };
const checked = full || lite;

function halfToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** numpy's assert_allclose for floats, exact equality otherwise; returns a message or undefined. */
function compare(name, actual, expected, data, rtol, atol) {
  if (actual.type !== expected.type) return `${name}: type ${actual.type} != expected ${expected.type}`;
  if (actual.dims.join(',') !== expected.dims.join(',')) {
    return `${name}: shape [${actual.dims}] != expected [${expected.dims}]`;
  }
  const want = typedArray(expected.type, data);
  for (let i = 0; i < want.length; i++) {
    let a = actual.data[i];
    let e = want[i];
    if (expected.type === 'float16') [a, e] = [halfToNumber(a), halfToNumber(e)];
    const ok = FLOATS.has(expected.type)
      ? (Number.isNaN(a) && Number.isNaN(e)) || a === e || Math.abs(a - e) <= atol + rtol * Math.abs(e)
      : a === e;
    if (!ok) return `${name}: wrong values, element ${i} is ${a} instead of ${e}`;
  }
  return undefined;
}

/** The names in a list of tests/conformance/, without comments and blank lines. */
function readList(name) {
  return readFileSync(join(root, 'tests', 'conformance', name), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

async function runCase(c) {
  const unsupported = c.datasets.flatMap((d) => [...d.inputs, ...d.outputs]).find((v) => v.unsupported);
  if (unsupported) return { status: 'skip', message: `unsupported input/output type: ${unsupported.name} is ${unsupported.unsupported}` };
  let session;
  try {
    session = await onnxlet.InferenceSession.create(join(casesDir, c.model));
    for (const d of c.datasets) {
      const feeds = {};
      for (const v of d.inputs) {
        const bytes = new Uint8Array(await readFile(join(casesDir, v.file)));
        feeds[v.name] = new onnxlet.Tensor(v.type, typedArray(v.type, bytes), v.dims);
      }
      const outputs = await session.run(feeds);
      const names = Object.keys(outputs);
      if (names.length !== d.outputs.length) return { status: 'fail', message: `${names.length} outputs, expected ${d.outputs.length}` };
      for (const [ix, expected] of d.outputs.entries()) {
        const actual = outputs[names[ix]];
        const data = new Uint8Array(await readFile(join(casesDir, expected.file)));
        const message = compare(expected.name, actual, expected, data, c.rtol, c.atol);
        if (message) return { status: 'fail', message };
      }
    }
    return { status: 'pass' };
  } catch (error) {
    if (!(error instanceof onnxlet.OnnxletError)) throw error;
    return { status: 'error', code: error.code, message: error.message };
  } finally {
    await session?.release();
  }
}

test(`ONNX backend node tests through wasm (${build} build)`, async () => {
  const manifestPath = join(casesDir, 'index.json');
  assert.ok(existsSync(manifestPath), `${manifestPath} is missing: run python3 scripts/make-node-tests.py`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const results = { run: lite ? 'wasm-lite' : 'wasm', onnxlet: onnxlet.env.versions.onnxlet, cases: {} };
  for (const c of manifest.cases) results.cases[c.name] = await runCase(c);
  mkdirSync(resultsDir, { recursive: true });
  if (checked) writeFileSync(join(resultsDir, wasmResults), `${JSON.stringify(results, null, 2)}\n`);

  const passed = Object.keys(results.cases).filter((n) => results.cases[n].status === 'pass');
  const plain = (n) => !n.includes('_expanded');
  console.log(
    `onnx ${manifest.onnx} node tests, wasm (${build} build): ${passed.length} / ${manifest.count} passed ` +
      `(${passed.filter(plain).length} / ${manifest.cases.map((c) => c.name).filter(plain).length} without the _expanded variants)`,
  );

  const expected = readList(list);
  const platformDependent = readList('platform-dependent.txt');
  const fresh = passed.filter((n) => !expected.includes(n) && !platformDependent.includes(n));
  if (fresh.length) console.log(`${fresh.length} cases pass but are not in the expected-pass list:\n  ${fresh.join('\n  ')}`);
  const needsFull = (r) => !full && r?.code === 'UNSUPPORTED_OPERATOR' && r.message.includes("only in onnxlet's full build");
  if (!full) console.log(`${expected.filter((n) => needsFull(results.cases[n])).length} expected cases need the full build`);
  const regressions = expected
    .filter((n) => results.cases[n]?.status !== 'pass' && !needsFull(results.cases[n]))
    .map((n) => `${n}: ${results.cases[n]?.status ?? 'no such case'} ${results.cases[n]?.message ?? ''}`);
  assert.deepEqual(regressions, [], 'expected passes regressed in wasm');

  const nativePath = join(resultsDir, nativeResults);
  if (checked && existsSync(nativePath)) {
    const native = JSON.parse(readFileSync(nativePath, 'utf8'));
    const disagree = Object.keys(results.cases).filter(
      (n) =>
        !platformDependent.includes(n) && (native.cases[n]?.status === 'pass') !== (results.cases[n].status === 'pass'),
    );
    assert.deepEqual(disagree.map((n) => `${n}: native ${native.cases[n]?.status}, wasm ${results.cases[n].status}`), [], 'native and wasm disagree');
  }
});
