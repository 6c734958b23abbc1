// Shared by every demo page: loading a model with a visible progress bar, the privacy badge, and
// a few DOM helpers. Plain ES module, no build step.
import { InferenceSession, modelCache } from '/dist/onnxlet.mjs';

/**
 * Creates an element: `h('td', { className: 'num' }, 'text', child)`. Properties are assigned
 * (`dataset` is merged); children may be strings, nodes, or null (skipped).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(element.style, value);
    else element[key] = value;
  }
  element.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

/** `1536` → `"1.5 KB"`, `3.1e6` → `"3.0 MB"`. */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

/** `(3.1e6, 7.4e6)` → `"3.0 / 7.1 MB"`: both amounts in the unit of the total. */
export function formatProgress(loaded, total) {
  const [unit, size] = total < 1024 * 1024 ? ['KB', 1024] : total < 1024 ** 3 ? ['MB', 1024 ** 2] : ['GB', 1024 ** 3];
  const digits = unit === 'GB' ? 2 : 1;
  return `${(loaded / size).toFixed(digits)} / ${(total / size).toFixed(digits)} ${unit}`;
}

/** An error as one line: `"UNSUPPORTED_OPERATOR: …"` for an OnnxletError, else its name and message. */
export function errorText(error) {
  if (error?.name === 'AbortError') return 'Cancelled.';
  const code = error?.code ?? error?.name ?? 'Error';
  return `${code}: ${error?.message ?? String(error)}`;
}

/** Replaces the content of `element` with `error` shown as an error (code and message). */
export function showError(element, error) {
  element.replaceChildren(h('p', { className: 'error', role: 'alert' }, errorText(error)));
  element.dataset.state = 'error';
  if (error?.code) element.dataset.code = error.code;
}

function sourceName(source) {
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source.name || 'model.onnx';
  const path = new URL(String(source), location.href).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || 'model.onnx';
}

/** Whether `create(url, { cache: true })` can work here: the Cache API needs a secure context. */
function cacheAvailable(source) {
  return (typeof source === 'string' || source instanceof URL) && typeof caches !== 'undefined' && isSecureContext;
}

async function isCached(url) {
  try {
    const href = new URL(String(url), location.href).href;
    return (await modelCache.list()).some((entry) => entry.url === href);
  } catch {
    return false;
  }
}

/**
 * Loads a model into a Web Worker (`worker: true`), cached in the Cache API when the page can use
 * it (`cache: true`; over plain HTTP from a host other than localhost there is no Cache API and
 * the model is fetched each visit), and shows its progress inside `progress` (an empty element):
 * a `<progress>` bar and a line "Downloading model.onnx: 3.1 / 7.4 MB (42%)", then "Compiling…",
 * then "Ready (from cache|network|local file) in N ms".
 *
 * `url` may also be a File or Blob (the "bring your own model" demo). The element's
 * `data-state` follows `download`, `compile`, `ready` or `error`, `data-source` says where the
 * bytes came from and `data-ms` how long it took. On error the element shows the code and message,
 * and the error is rethrown.
 *
 * @param {string | URL | Blob} url
 * @param {{ progress?: HTMLElement, label?: string, signal?: AbortSignal }} [options]
 * @returns {Promise<import('/dist/index.d.ts').InferenceSession>}
 */
export async function loadModel(url, { progress, label, signal } = {}) {
  const name = label ?? sourceName(url);
  const isFile = typeof Blob !== 'undefined' && url instanceof Blob;
  const cache = cacheAvailable(url);
  const bar = h('progress', { max: 1 });
  const text = h('span', { className: 'progress-text' }, `Loading ${name}…`);
  if (progress) {
    progress.classList.add('model-progress');
    progress.replaceChildren(bar, text);
    progress.dataset.state = 'download';
    delete progress.dataset.source;
    delete progress.dataset.ms;
    delete progress.dataset.code;
  }
  const source = isFile ? 'local file' : cache && (await isCached(url)) ? 'cache' : 'network';
  const onProgress = (event) => {
    if (!progress) return;
    progress.dataset.state = event.status;
    if (event.status === 'download') {
      if (event.progress === undefined) {
        bar.removeAttribute('value');
        text.textContent = `Downloading ${name}: ${formatBytes(event.loaded)}`;
      } else {
        bar.value = event.progress;
        const percent = Math.floor(100 * event.progress);
        text.textContent = `Downloading ${name}: ${formatProgress(event.loaded, event.total)} (${percent}%)`;
      }
    } else if (event.status === 'compile') {
      bar.value = event.progress;
      text.textContent = `Compiling ${name}… (${Math.floor(100 * event.progress)}%)`;
    }
  };
  const started = performance.now();
  try {
    const session = await InferenceSession.create(url, { worker: true, cache, onProgress, signal });
    const ms = Math.round(performance.now() - started);
    if (progress) {
      bar.value = 1;
      text.textContent = `${name}: ready (from ${source}) in ${ms} ms`;
      Object.assign(progress.dataset, { state: 'ready', source, ms: String(ms) });
    }
    return session;
  } catch (error) {
    if (progress) showError(progress, error);
    throw error;
  }
}

/** A small padlock drawn in SVG (emoji fonts are not everywhere). */
function lockIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', 'badge-icon');
  svg.setAttribute('aria-hidden', 'true');
  const shackle = document.createElementNS(ns, 'path');
  shackle.setAttribute('d', 'M5 7V5a3 3 0 0 1 6 0v2');
  shackle.setAttribute('fill', 'none');
  shackle.setAttribute('stroke', 'currentColor');
  shackle.setAttribute('stroke-width', '1.6');
  const body = document.createElementNS(ns, 'rect');
  Object.entries({ x: 3, y: 7, width: 10, height: 8, rx: 1.5, fill: 'currentColor' }).forEach(([k, v]) => body.setAttribute(k, v));
  svg.append(shackle, body);
  return svg;
}

/**
 * Renders the badge "0 bytes of your data sent" into `element` and returns `{ markReady() }`.
 *
 * From `markReady()` on (call it once the model is ready; calling it again, after loading another
 * model, restarts the count; `markReady('the load failed')` changes the event named) the badge counts every network request the page makes, from the
 * page's Resource Timing entries (a buffered PerformanceObserver on 'resource' entries whose
 * startTime is after the mark; http(s) only, as blob: and data: URLs never leave the device).
 * Requests a worker makes appear in the page's timeline only for the worker's own script; a
 * page cannot observe more than that. The browser tests back the claim from outside the page:
 * they intercept every request the page and its workers make (Playwright's `request` event) and
 * check there is none after the model is ready and that none carries the user's data.
 *
 * @param {HTMLElement} element
 * @returns {{ markReady(what?: string): void, markLoading(): void, count(): number }}
 */
export function privacyBadge(element) {
  const title = h('strong', {}, '0 bytes of your data sent');
  const detail = h('span', { className: 'badge-detail' }, 'loading the model…');
  element.classList.add('privacy-badge');
  element.replaceChildren(lockIcon(), title, detail);
  element.dataset.requests = '';
  let since;
  let seen = [];
  let event = 'the model loaded';
  const update = () => {
    const n = seen.length;
    element.dataset.requests = String(n);
    element.classList.toggle('leaked', n > 0);
    detail.textContent = `${n} request${n === 1 ? '' : 's'} since ${event}`;
    detail.title = seen.map((e) => e.name).join('\n');
  };
  const observer = new PerformanceObserver((list) => {
    if (since === undefined) return;
    const fresh = list.getEntries().filter((e) => e.startTime >= since && /^https?:/.test(e.name));
    if (fresh.length > 0) {
      seen = seen.concat(fresh);
      update();
    }
  });
  observer.observe({ type: 'resource', buffered: true });
  return {
    markReady(what = 'the model loaded') {
      event = what;
      since = performance.now();
      seen = [];
      update();
    },
    /** Stops counting while another model loads (its requests are expected), until markReady(). */
    markLoading() {
      since = undefined;
      seen = [];
      element.classList.remove('leaked');
      element.dataset.requests = '';
      detail.textContent = 'loading the model…';
    },
    count: () => seen.length,
  };
}
