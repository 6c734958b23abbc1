// Inputs for any model: seeded random values of the declared type, or an image laid out as the
// model expects. Pure functions on plain { type, data, dims } objects, with no DOM and no
// library import, so the tests can rebuild exactly the same inputs in Node.

/** ImageNet's per-channel mean and standard deviation (RGB, on values scaled to [0, 1]). */
export const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** The side used for a symbolic height or width of an image input. */
export const DEFAULT_IMAGE_SIDE = 224;

/** A seeded generator of floats in [0, 1) (mulberry32), so a run is reproducible. */
export function mulberry32(seed) {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The shape an input is fed with: declared numbers kept, symbolic or unknown dimensions 1. */
export function concreteDims(shape) {
  return shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
}

/**
 * How an input takes an image, or null: a float input of rank 4 with 3 channels first
 * ([N,3,H,W], NCHW) or last ([N,H,W,3], NHWC). Symbolic sides become 224, a symbolic batch 1.
 */
export function imageLayout(meta) {
  if (!['float32', 'float64'].includes(meta.type) || meta.shape.length !== 4) return null;
  const side = (d) => (typeof d === 'number' && d > 0 ? d : DEFAULT_IMAGE_SIDE);
  const batch = typeof meta.shape[0] === 'number' && meta.shape[0] > 0 ? meta.shape[0] : 1;
  const [, a, b, c] = meta.shape;
  if (a === 3 && c !== 3) return { layout: 'NCHW', batch, height: side(b), width: side(c) };
  if (c === 3) return { layout: 'NHWC', batch, height: side(a), width: side(b) };
  return null;
}

/** float → IEEE half-precision bits (round to nearest even), for float16 inputs. */
function toHalfBits(value) {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (exponent <= 0) return sign;
  if (exponent >= 31) return sign | 0x7c00;
  let half = sign | (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half += 1;
  return half;
}

const FILLS = {
  float32: [Float32Array, (next) => next() * 2 - 1],
  float64: [Float64Array, (next) => next() * 2 - 1],
  float16: [Uint16Array, (next) => toHalfBits(next() * 2 - 1)],
  int8: [Int8Array, (next) => Math.floor(next() * 256) - 128],
  uint8: [Uint8Array, (next) => Math.floor(next() * 256)],
  int16: [Int16Array, (next) => Math.floor(next() * 256)],
  uint16: [Uint16Array, (next) => Math.floor(next() * 256)],
  int32: [Int32Array, (next) => Math.floor(next() * 256)],
  uint32: [Uint32Array, (next) => Math.floor(next() * 256)],
  int64: [BigInt64Array, (next) => BigInt(Math.floor(next() * 256))],
  uint64: [BigUint64Array, (next) => BigInt(Math.floor(next() * 256))],
  bool: [Uint8Array, (next) => (next() < 0.5 ? 1 : 0)],
};

/** What {@link randomInput} puts in an input of `type`, in words. */
export function randomDescription(type) {
  if (type.startsWith('float')) return 'uniform in [-1, 1)';
  if (type === 'bool') return 'true or false';
  if (type === 'int8') return 'integers in [-128, 127]';
  return 'integers in [0, 255]';
}

/** The shape an input is fed with: an image input's layout, or {@link concreteDims}. */
export function feedDims(meta) {
  const image = imageLayout(meta);
  if (!image) return concreteDims(meta.shape);
  const { batch, height, width } = image;
  return image.layout === 'NCHW' ? [batch, 3, height, width] : [batch, height, width, 3];
}

/**
 * Seeded random values for one input, of the shape {@link feedDims} gives. An input named `sr` (a
 * sample rate, as in silero-vad) gets 16000, which is what such models accept.
 */
export function randomInput(meta, next) {
  const dims = feedDims(meta);
  const size = dims.reduce((a, b) => a * b, 1);
  const [Array_, fill] = FILLS[meta.type] ?? [Float32Array, () => 0];
  const data = new Array_(size);
  if (meta.name === 'sr' && size === 1) {
    data[0] = meta.type.endsWith('64') && meta.type !== 'float64' ? 16000n : 16000;
    return { type: meta.type, data, dims };
  }
  for (let i = 0; i < size; i++) data[i] = fill(next);
  return { type: meta.type, data, dims };
}

/** Seeded random values for every input, drawn from one generator in input order. */
export function randomInputs(inputMetadata, seed) {
  const next = mulberry32(seed);
  return Object.fromEntries(inputMetadata.map((meta) => [meta.name, randomInput(meta, next)]));
}

/**
 * An image input from RGBA pixels already resized to the layout's width and height: RGB scaled to
 * [0, 1], normalised with the ImageNet mean and std, laid out NCHW or NHWC, repeated over the batch.
 */
export function imageInput(meta, layout, rgba) {
  const { batch, height, width } = layout;
  const plane = height * width;
  const Array_ = meta.type === 'float64' ? Float64Array : Float32Array;
  const data = new Array_(batch * 3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const value = (rgba[4 * p + c] / 255 - IMAGENET.mean[c]) / IMAGENET.std[c];
      const index = layout.layout === 'NCHW' ? c * plane + p : 3 * p + c;
      data[index] = value;
    }
  }
  for (let n = 1; n < batch; n++) data.copyWithin(n * 3 * plane, 0, 3 * plane);
  const dims = layout.layout === 'NCHW' ? [batch, 3, height, width] : [batch, height, width, 3];
  return { type: meta.type, data, dims };
}

/**
 * Whether an output looks like a classifier's scores: a float tensor with one dimension of at
 * least 2 and every other dimension 1 (as [1, 1000] or [1, 1000, 1, 1]).
 */
export function isClassifierLike(tensor) {
  if (!tensor.type.startsWith('float') || tensor.type === 'float16') return false;
  const big = tensor.dims.filter((d) => d !== 1);
  return big.length === 1 && big[0] >= 2;
}

/** The `k` largest values as [index, value], largest first. */
export function topK(values, k = 5) {
  return Array.from(values, (v, i) => [i, Number(v)])
    .sort((a, b) => b[1] - a[1])
    .slice(0, k);
}

/** A number as the page shows it: 5 significant digits, exponent form when very small or large. */
export function formatValue(value) {
  if (typeof value === 'bigint') return value.toString();
  if (Number.isInteger(value) && Math.abs(value) < 1e9) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) return value.toExponential(4);
  return String(Number(value.toPrecision(5)));
}
