// The measurement itself, shared by the browser page and the Node child process: one runtime,
// one model, one fresh page or process. Plain ESM, so the page can load it as is (the bench
// server mounts tests/support/ where the page expects it).

import { typedArray } from '../tests/support/compare.mjs';

export { typedArray };

/** The wasm memory of every module instantiated so far (bench/probe.js), in bytes. */
export function wasmMemoryBytes() {
  const probe = globalThis.__wasmProbe;
  if (!probe) throw new Error('bench/probe.js was not loaded before the runtime');
  return probe.memoryBytes();
}

const plain = (data) => Array.from(data, Number);

/**
 * Measures one runtime on one model:
 * - `runtime`: `{ InferenceSession, Tensor }` (onnxlet or onnxruntime-web);
 * - `job`: `{ inputs: [{ name, type, dims }], state: { output: input }, warmup, runs, minRuns, budgetMs,
 *   sessionOptions }`: after `warmup` runs (the first included), up to `runs` timed runs, stopping
 *   early once `minRuns` are done and the timed runs have taken `budgetMs` (when set);
 * - `data`: `{ model: Uint8Array, inputs: Uint8Array[] }`;
 * - `hooks.checkpoint(label)`: resolves to `{ jsHeap }` after a garbage collection where possible;
 * - `hooks.log(text)`: progress.
 *
 * The first `create` includes the runtime's own initialisation (fetching and compiling its
 * wasm), as in an application; a second `create` after `release` measures a warm runtime. Both
 * also give the longest the event loop was blocked meanwhile (`createBlockMs`, `createWarmBlockMs`).
 * Stateful models (`job.state`) feed each run's state output back as the next run's input.
 * `firstResultMs` is the time from the page's navigation (the process's start in Node) to the
 * first result, less the time spent in memory checkpoints.
 */
/**
 * Awaits `f()` while a 1 ms interval timer watches the event loop: its result, and the longest the
 * loop went without a turn (ms) meanwhile. That is how long a page could not paint or handle
 * input, and how late an `AbortSignal` could be honoured, while a session was created.
 */
async function watched(f) {
  let last = performance.now();
  let longest = 0;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  };
  const timer = setInterval(tick, 1);
  try {
    const result = await f();
    tick();
    return [result, longest];
  } finally {
    clearInterval(timer);
  }
}

export async function measure(runtime, job, data, hooks) {
  const { InferenceSession, Tensor } = runtime;
  const spare = data.model.slice();
  const feeds = {};
  job.inputs.forEach((input, i) => {
    feeds[input.name] = new Tensor(input.type, typedArray(input.type, data.inputs[i]), input.dims);
  });
  let checkpointMs = 0;
  const memory = async (label) => {
    const t = performance.now();
    const result = { wasm: wasmMemoryBytes(), ...(await hooks.checkpoint(label)) };
    checkpointMs += performance.now() - t;
    return result;
  };
  const before = await memory('before');

  let started = performance.now();
  const [session, createBlockMs] = await watched(() => InferenceSession.create(data.model, job.sessionOptions));
  const createMs = performance.now() - started;
  const afterLoad = await memory('load');

  const run = async () => {
    const t = performance.now();
    const outputs = await session.run(feeds);
    const ms = performance.now() - t;
    for (const [output, input] of Object.entries(job.state ?? {})) feeds[input] = outputs[output];
    return { ms, outputs };
  };

  const first = await run();
  const firstResultMs = performance.now() - checkpointMs;
  const outputs = Object.fromEntries(
    Object.entries(first.outputs).map(([name, t]) => [name, { dims: [...t.dims], data: plain(t.data) }]),
  );
  hooks.log(`create ${createMs.toFixed(1)} ms, first run ${first.ms.toFixed(1)} ms`);

  for (let i = 1; i < job.warmup; i++) await run();
  const latencies = [];
  const seriesStart = performance.now();
  let lastLog = seriesStart;
  for (let i = 0; i < job.runs; i++) {
    latencies.push((await run()).ms);
    const now = performance.now();
    if (job.budgetMs && i + 1 >= job.minRuns && now - seriesStart > job.budgetMs) break;
    if (now - lastLog > 10000) {
      hooks.log(`run ${i + 1}/${job.runs}`);
      lastLog = now;
    }
  }
  const afterRuns = await memory('runs');

  await session.release();
  started = performance.now();
  const [again, createWarmBlockMs] = await watched(() => InferenceSession.create(spare, job.sessionOptions));
  const createWarmMs = performance.now() - started;
  await again.release();

  return {
    // onnxlet's engine for this model (`session.engine`); onnxruntime-web has none.
    engine: session.engine,
    createMs,
    createWarmMs,
    createBlockMs,
    createWarmBlockMs,
    firstRunMs: first.ms,
    firstResultMs,
    latencies,
    memory: { before, load: afterLoad, runs: afterRuns, runCount: Math.max(job.warmup, 1) + latencies.length },
    instances: globalThis.__wasmProbe.instances,
    outputs,
  };
}
