// The inputs of tests/models/gemm_fusions.onnx, as scripts/make-test-models.py makes them, for the
// Node oracle test (tests/node/gemm.test.mjs) and the Chromium builds test.

/** ((i * mul) % mod - shift) / scale for i in 0..n: make-test-models.py's `pattern`. */
export const pattern = (dims, mul, mod, shift, scale) =>
  Float64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => (((i * mul) % mod) - shift) / scale);

// Every product that reads x has an input of its own, fed the same values: tract does not fuse
// operations into a product whose operands another product shares. `xs` has a symbolic first
// dimension.
const xProducts = ['mm', 'mm_b', 'gemm', 'mm_l', 'mm_z', 'mm_f', 'mm_r', 'mm_c'];
const others = [
  ['z', [29, 53]],
  ['xw', [67, 130]],
  ['c', [1, 3, 9, 11]],
  ['ba', [2, 7, 5]],
  ['bb', [2, 5, 13]],
];

/** The values of x and of the other inputs, by name. */
export const feeds = {
  x: pattern([29, 67], 3, 23, 11, 8),
  ...Object.fromEntries(others.map(([name, dims], k) => [name, pattern(dims, 4 + k, 23, 11, 8)])),
};

/** Every input as [name, dims, values]. */
export const inputs = [
  ...xProducts.map((p) => [`x_${p}`, [29, 67], feeds.x]),
  ...others.map(([n, d]) => [n, d, feeds[n]]),
  ['xs', [29, 67], feeds.x],
];
