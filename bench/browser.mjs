// Runs benchmark jobs in headless Chromium: each job in a fresh browser context (empty HTTP and
// code caches) on the static server, with bench/probe.js installed before any page script.
import { join } from 'node:path';

import { serve } from '../scripts/serve.mjs';
import { benchDist } from './dist.mjs';
import { launch } from '../tests/support/browser.mjs';
import { modelsDir, root } from '../tests/support/models.mjs';

const benchDir = join(root, 'bench');

/** URL prefix → directory; runtime files are the ones under RUNTIME_PREFIXES. */
export const MOUNTS = {
  '/bench/': benchDir,
  '/dist/': benchDist,
  '/ort/': join(root, 'node_modules', 'onnxruntime-web', 'dist'),
  '/models/': modelsDir,
  '/tests/support/': join(root, 'tests', 'support'),
};
export const RUNTIME_PREFIXES = { onnxlet: '/dist/', ort: '/ort/' };

const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

/** Two servers of the same files: a plain one and a cross-origin isolated one (COOP/COEP). */
export async function startServers() {
  const [plain, isolated] = await Promise.all([serve(MOUNTS), serve(MOUNTS, { headers: ISOLATION_HEADERS })]);
  return { plain, isolated, close: () => Promise.all([plain.close(), isolated.close()]) };
}

/** A launched Chromium and its version. */
export async function startBrowser() {
  const browser = await launch();
  return { browser, version: browser.version() };
}

/**
 * Runs `job` (see bench/pages/page.mjs) in a fresh context of `browser` served from `base`.
 * Resolves to `{ result, error, fetched, consoleErrors }`, where `fetched` lists the URL paths
 * the page and its workers requested, and `result.workers` counts the workers the page started.
 */
export async function runPage(browser, base, job, { log, timeoutMs }) {
  const context = await browser.newContext();
  const fetched = new Set();
  const consoleErrors = [];
  context.on('request', (request) => fetched.add(new URL(request.url()).pathname));
  try {
    const page = await context.newPage();
    page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      const text = message.text();
      if (text.startsWith('bench: ')) log(text.slice(7));
      else if (message.type() === 'error') consoleErrors.push(text);
    });
    let workers = 0;
    page.on('worker', (worker) => {
      workers++;
      worker.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    });
    await page.addInitScript({ path: join(benchDir, 'probe.js') });
    const cdp = await context.newCDPSession(page);
    await page.exposeFunction('__benchCheckpoint', async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const heap = await cdp.send('Runtime.getHeapUsage');
      return { jsHeap: heap.usedSize, jsHeapTotal: heap.totalSize };
    });
    await page.goto(`${base}/bench/pages/?job=${encodeURIComponent(JSON.stringify(job))}`);
    await page.waitForFunction(() => window.__benchResult || window.__benchError, null, {
      timeout: timeoutMs,
      polling: 250,
    });
    const { result, error } = await page.evaluate(() => ({ result: window.__benchResult, error: window.__benchError }));
    return { result: result && { ...result, workers }, error, fetched: [...fetched], consoleErrors };
  } catch (error) {
    return { error: String(error?.stack ?? error), fetched: [...fetched], consoleErrors };
  } finally {
    await context.close();
  }
}
