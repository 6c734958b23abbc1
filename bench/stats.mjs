// Summaries of raw measurements: percentiles, ratios, geometric means, output agreement.

/** The q-quantile (0..1) of `values`, linearly interpolated between order statistics. */
export function quantile(values, q) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** The geometric mean of the positive finite values, or undefined when there are none. */
export function geomean(values) {
  const ok = values.filter((v) => Number.isFinite(v) && v > 0);
  if (ok.length === 0) return undefined;
  return Math.exp(ok.reduce((sum, v) => sum + Math.log(v), 0) / ok.length);
}

/** The metrics of one runtime's raw result, each a number (ms or bytes). */
export function summarise(raw) {
  const { latencies, memory } = raw;
  return {
    createMs: raw.createMs,
    createWarmMs: raw.createWarmMs,
    createBlockMs: raw.createBlockMs,
    createWarmBlockMs: raw.createWarmBlockMs,
    firstRunMs: raw.firstRunMs,
    coldStartMs: raw.firstResultMs,
    medianMs: quantile(latencies, 0.5),
    p10Ms: quantile(latencies, 0.1),
    p90Ms: quantile(latencies, 0.9),
    runs: latencies.length,
    wasmLoadBytes: memory.load.wasm,
    wasmRunsBytes: memory.runs.wasm,
    jsHeapLoadBytes: memory.load.jsHeap,
    jsHeapRunsBytes: memory.runs.jsHeap,
    memoryRunCount: memory.runCount,
  };
}

/** The metrics each fresh page or process measures (a "start"), from its raw result. */
export function startOf(raw) {
  return {
    createMs: raw.createMs,
    createWarmMs: raw.createWarmMs,
    createBlockMs: raw.createBlockMs,
    createWarmBlockMs: raw.createWarmBlockMs,
    coldStartMs: raw.firstResultMs,
  };
}

/**
 * `summary` with its start metrics (session create, warm create, cold start) replaced by their
 * medians over `starts` (the summary's own start among them): one start is one sample, and a
 * busy machine moved a single create by half from one run to the next.
 */
export function withStarts(summary, starts) {
  const out = { ...summary, starts: starts.length };
  for (const key of ['createMs', 'createWarmMs', 'createBlockMs', 'createWarmBlockMs', 'coldStartMs']) {
    const values = starts.map((s) => s[key]).filter(Number.isFinite);
    if (values.length) out[key] = quantile(values, 0.5);
  }
  return out;
}

/** Metrics compared as onnxlet / onnxruntime-web. */
export const RATIO_METRICS = [
  'createMs', 'createWarmMs', 'createBlockMs', 'createWarmBlockMs', 'firstRunMs', 'coldStartMs', 'medianMs', 'p10Ms', 'p90Ms', 'wasmLoadBytes',
  'wasmRunsBytes', 'jsHeapLoadBytes', 'jsHeapRunsBytes',
];

/** onnxlet / onnxruntime-web for every metric both have. */
export function ratios(ort, onnxlet) {
  const out = {};
  for (const key of RATIO_METRICS) {
    const a = onnxlet?.[key];
    const b = ort?.[key];
    if (Number.isFinite(a) && Number.isFinite(b) && b > 0) out[key] = a / b;
  }
  return out;
}

/** max |a - b| over two equally long numeric arrays (Infinity when the lengths differ or a value is NaN). */
export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(Number(a[i]) - Number(b[i]));
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

/** max |a - b| per output name over the outputs both runs produced, and the worst of them. */
export function agreement(outputsA, outputsB) {
  const perOutput = {};
  for (const [name, a] of Object.entries(outputsA)) {
    const b = outputsB[name];
    perOutput[name] = b ? maxAbsDiff(a.data, b.data) : Infinity;
  }
  const values = Object.values(perOutput);
  return { maxAbs: values.length ? Math.max(...values) : Infinity, perOutput };
}
