// The wasm matrix-product kernels (src/engine/gemm.rs) against a float64 oracle written here: plain,
// batched and Conv (im2col) products at shapes with partial tiles, on both tiles (`big` has 66
// rows of output channels, which takes the 4x8 tile; the others take the 8x8), with a product
// whose size is symbolic, and each operation tract fuses
// into the kernel (bias per row and per column, Relu, Clip, LeakyRelu, a tensor added, scalar
// ops either side, per-row Min and Mul, per-column Max). tests/models/gemm_fusions.onnx is made by
// scripts/make-test-models.py, from the same weight pattern as `pattern` (tests/support/gemm-fusions.mjs).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InferenceSession, Tensor } from 'onnxlet';

import { feeds, inputs, pattern } from '../support/gemm-fusions.mjs';
import { testModel } from '../support/models.mjs';

const W = pattern([67, 53], 7, 17, 8, 8);
const Wt = pattern([53, 67], 7, 17, 8, 8);
const b = pattern([53], 5, 11, 5, 4);
const r = pattern([29, 1], 1, 5, 2, 2);
const W2 = pattern([130, 66], 3, 13, 6, 16);
const b2 = pattern([66], 1, 7, 3, 2);
const Wc = pattern([5, 3, 3, 3], 5, 9, 4, 4);
const bc = pattern([5], 1, 3, 1, 2);

/** a [m, k] times b [k, n] (or b transposed, [n, k]), in float64. */
function matmul(a, bm, m, k, n, transB = false) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * (transB ? bm[j * k + p] : bm[p * n + j]);
      out[i * n + j] = s;
    }
  }
  return out;
}

const map = (v, f) => v.map((x, i) => f(x, Math.floor(i / 53), i % 53));
const leakyRelu = (alpha) => (x) => (x > 0 ? x : alpha * x);

function conv() {
  const [c, h, w, oc] = [3, 9, 11, 5];
  const out = new Float64Array(oc * h * w);
  for (let o = 0; o < oc; o++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = bc[o];
        for (let ch = 0; ch < c; ch++) {
          for (let dy = 0; dy < 3; dy++) {
            for (let dx = 0; dx < 3; dx++) {
              const [iy, ix] = [y + dy - 1, x + dx - 1];
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              s += feeds.c[(ch * h + iy) * w + ix] * Wc[((o * c + ch) * 3 + dy) * 3 + dx];
            }
          }
        }
        out[(o * h + y) * w + x] = s;
      }
    }
  }
  return out.map(leakyRelu(0.2));
}

function batched() {
  const out = new Float64Array(2 * 7 * 13);
  for (let n = 0; n < 2; n++) {
    out.set(matmul(feeds.ba.subarray(n * 35, n * 35 + 35), feeds.bb.subarray(n * 65, n * 65 + 65), 7, 5, 13), n * 91);
  }
  return out;
}

const mm = matmul(feeds.x, W, 29, 67, 53);
const expected = {
  mm,
  bias_relu: map(mm, (v, _, j) => Math.max(v + b[j], 0)),
  gemm_clip: map(matmul(feeds.x, Wt, 29, 67, 53, true), (v, _, j) => Math.min(Math.max(0.5 * v + 2 * b[j], -1.5), 1.5)),
  leaky: map(mm, (v, _, j) => leakyRelu(0.1)(v + b[j])),
  plus_z: map(mm, (v, i, j) => v + feeds.z[i * 53 + j]),
  flip: map(mm, (v) => 2 - v),
  row_min: map(mm, (v, i) => Math.min(v, r[i])),
  col_max_row_mul: map(mm, (v, i, j) => Math.max(v, b[j]) * r[i]),
  big: matmul(feeds.xw, W2, 67, 130, 66).map((v, i) => v + b2[i % 66]),
  conv: conv(),
  batched: batched(),
  sym: map(mm, (v, _, j) => v + b[j]),
};

test('every fused matrix product matches the float64 oracle', async () => {
  const session = await InferenceSession.create(testModel('gemm_fusions.onnx'));
  const tensors = Object.fromEntries(
    inputs.map(([name, dims, data]) => [name, new Tensor('float32', Float32Array.from(data), dims)]),
  );
  const outputs = await session.run(tensors);
  assert.deepEqual(Object.keys(outputs).sort(), Object.keys(expected).sort());
  for (const [name, want] of Object.entries(expected)) {
    const got = outputs[name].data;
    assert.equal(got.length, want.length, name);
    for (let i = 0; i < want.length; i++) {
      const tolerance = 1e-5 * (1 + Math.abs(want[i]));
      assert.ok(Math.abs(got[i] - want[i]) <= tolerance, `${name}[${i}]: got ${got[i]}, want ${want[i]}`);
    }
  }
  await session.release();
});

test('a second run with new inputs recomputes the product (exact: the values are dyadic)', async () => {
  const session = await InferenceSession.create(testModel('gemm_fusions.onnx'));
  const tensors = Object.fromEntries(
    inputs.map(([name, dims, data]) => [name, new Tensor('float32', Float32Array.from(data), dims)]),
  );
  const first = await session.run(tensors);
  const scaled = { ...tensors, x_mm: new Tensor('float32', Float32Array.from(feeds.x, (v) => 2 * v), [29, 67]) };
  const second = await session.run(scaled);
  for (let i = 0; i < mm.length; i++) assert.equal(second.mm.data[i], 2 * first.mm.data[i], `mm[${i}]`);
  await session.release();
});

test('the symbolic product runs with 1, 3 and 29 rows on one session (matrix-vector and matrix kernels)', async () => {
  const session = await InferenceSession.create(testModel('gemm_fusions.onnx'));
  const base = Object.fromEntries(
    inputs.map(([name, dims, data]) => [name, new Tensor('float32', Float32Array.from(data), dims)]),
  );
  for (const n of [1, 3, 29, 1]) {
    const { sym } = await session.run({ ...base, xs: new Tensor('float32', Float32Array.from(feeds.x.subarray(0, n * 67)), [n, 67]) });
    assert.deepEqual(sym.dims, [n, 53]);
    for (let i = 0; i < n * 53; i++) {
      assert.ok(Math.abs(sym.data[i] - expected.sym[i]) <= 1e-5 * (1 + Math.abs(expected.sym[i])), `n = ${n}, sym[${i}]`);
    }
  }
  await session.release();
});
