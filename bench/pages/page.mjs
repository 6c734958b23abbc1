// Runs one benchmark job (`?job=<json>`: runtime, threads, model and inputs) in a fresh page and
// leaves the result in `window.__benchResult` (or the failure in `window.__benchError`).
import { measure } from '../harness.mjs';

const job = JSON.parse(new URLSearchParams(location.search).get('job'));
const log = (text) => console.log(`bench: ${text}`);

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

/**
 * onnxruntime-web's wasm-only ESM build (its emscripten glue and wasm are fetched from /ort/ on
 * the first create), or onnxlet's minified script-tag build (its wasm beside it in /dist/).
 */
async function loadRuntime(name, threads, build) {
  if (name === 'ort') {
    const ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.wasmPaths = '/ort/';
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    return ort;
  }
  await loadScript('/dist/onnxlet.min.js');
  globalThis.onnxlet.env.wasm.numThreads = threads;
  if (build && build !== 'auto') globalThis.onnxlet.env.wasm.build = build;
  return globalThis.onnxlet;
}

async function fetchBytes(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function checkpoint(label) {
  const heap = await window.__benchCheckpoint(label);
  return { ...heap, performanceMemory: performance.memory?.usedJSHeapSize };
}

try {
  const threads = job.threads === 'all' ? navigator.hardwareConcurrency : job.threads;
  const [runtime, model, ...inputs] = await Promise.all([
    loadRuntime(job.runtime, threads, job.build),
    fetchBytes(`/models/${job.file}`),
    ...job.inputs.map((input) => fetchBytes(`/models/${input.file}`)),
  ]);
  const result = await measure(runtime, job, { model, inputs }, { checkpoint, log });
  window.__benchResult = { ...result, threads, crossOriginIsolated: globalThis.crossOriginIsolated === true };
} catch (error) {
  window.__benchError = String(error?.stack ?? error);
}
