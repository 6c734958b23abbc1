// The browser examples (examples/script-tag, examples/worker, examples/vite) as a user runs them:
// onnxlet installed from the packed tarball into a copy of each, served as static files (or built
// and served by Vite), driven in Chromium, and the content types shown checked against magika's
// model run with onnxruntime-web on the same text.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { serve } from '../../scripts/serve.mjs';
import { launch, openPage } from '../support/browser.mjs';
import { bin, installExample, mustRun, removeExamples } from '../support/examples.mjs';
import { magikaDir, reference } from '../support/magika.mjs';
import { root } from '../support/models.mjs';

const JSON_TEXT = `{
  "name": "settings",
  "version": 3,
  "theme": { "dark": true, "accent": "#0a7" },
  "recent": ["notes.md", "todo.txt", "report.pdf"],
  "autosave": { "enabled": true, "intervalSeconds": 30 }
}`;

const dirs = {};
let browser;

before(async () => {
  for (const name of ['script-tag', 'worker', 'vite']) dirs[name] = await installExample(name);
  mkdirSync(join(dirs.vite, 'public', 'magika'), { recursive: true });
  for (const file of ['model.onnx', 'config.min.json']) copyFileSync(join(magikaDir, file), join(dirs.vite, 'public', 'magika', file));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  removeExamples();
});

/** Serves a static example directory, with the magika model at magika/ as its README says to put it. */
const serveExample = (dir) => serve({ '/': dir, '/magika/': magikaDir });

/** The three content types the page shows, as [label, score] pairs, once it shows them. */
async function shownTopThree(page, previous) {
  await page.waitForFunction(
    (previous) => {
      const items = [...document.querySelectorAll('#result li')].map((li) => li.textContent);
      return items.length === 3 && items.join('\n') !== previous;
    },
    previous,
  );
  const items = await page.$$eval('#result li', (lis) => lis.map((li) => li.textContent));
  return items.map((text) => {
    const match = text.match(/^(\S+) (\d+\.\d\d)%$/);
    assert.ok(match, `unexpected result ${JSON.stringify(text)}`);
    return [match[1], Number(match[2]) / 100];
  });
}

async function checkAgainstReference(page, shown, expectedLabel, what) {
  const text = await page.inputValue('#text');
  const [expected] = await reference([new TextEncoder().encode(text)]);
  assert.equal(shown[0][0], expected.top[0].label, `${what}: top label`);
  assert.equal(shown[0][0], expectedLabel, `${what}: top label`);
  for (const [label, score] of shown) {
    const want = expected.top.find((t) => t.label === label).score;
    assert.ok(Math.abs(score - want) <= 1.5e-4, `${what}: ${label} shown at ${score}, onnxruntime-web ${want}`);
  }
}

/**
 * Drives the page like a user: waits for the sample text's result, then types JSON and presses
 * Identify. Checks both results and saves a screenshot.
 */
async function driveMagikaPage(url, what) {
  const { page, problems } = await openPage(browser, url);
  try {
    const first = await shownTopThree(page, '');
    await checkAgainstReference(page, first, 'python', `${what}, sample text`);
    assert.match(await page.textContent('#status'), /^Identified in \d+ ms/);
    assert.equal(await page.getAttribute('#progress', 'value'), '1');

    await page.fill('#text', JSON_TEXT);
    await page.click('#identify');
    const second = await shownTopThree(page, first.map(([l, s]) => `${l} ${(s * 100).toFixed(2)}%`).join('\n'));
    await checkAgainstReference(page, second, 'json', `${what}, typed JSON`);
    mkdirSync(join(root, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-results', `examples-${what}.png`), fullPage: true });
    assert.deepEqual(problems, []);
    return page;
  } catch (error) {
    await page.screenshot({ path: join(root, 'test-results', `examples-${what}-failed.png`), fullPage: true }).catch(() => {});
    throw error;
  }
}

test('script-tag: the global onnxlet finds its wasm beside the script and identifies the text', async () => {
  const site = await serveExample(dirs['script-tag']);
  try {
    const page = await driveMagikaPage(`${site.url}/`, 'script-tag');
    const paths = site.requests.map((r) => r.path);
    assert.ok(paths.includes('/node_modules/onnxlet/dist/onnxlet.min.js'));
    // magika runs on the lite engine: its module (relaxed SIMD, in Chromium) is the only one loaded.
    assert.deepEqual(paths.filter((p) => p.endsWith('.wasm')), ['/node_modules/onnxlet/dist/onnxlet_lite_relaxed_bg.wasm']);
    assert.ok(paths.includes('/magika/model.onnx'));
    assert.equal(await page.evaluate(() => typeof window.onnxlet.InferenceSession.create), 'function');
    await page.close();
  } finally {
    await site.close();
  }
});

test('worker: the ESM build runs in the page\'s own module worker', async () => {
  const site = await serveExample(dirs.worker);
  try {
    const page = await driveMagikaPage(`${site.url}/`, 'worker');
    const workers = page.workers();
    assert.deepEqual(workers.map((w) => new URL(w.url()).pathname), ['/worker.js']);
    assert.match(await page.textContent('#status'), /in the worker$/);
    const loaded = (context) =>
      context.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname));
    const inWorker = await loaded(workers[0]);
    assert.ok(site.requests.some((r) => r.path === '/node_modules/onnxlet/dist/onnxlet.mjs'));
    assert.ok(inWorker.includes('/node_modules/onnxlet/dist/onnxlet_lite_relaxed_bg.wasm'), inWorker.join('\n'));
    assert.ok(inWorker.includes('/magika/model.onnx'), inWorker.join('\n'));
    const inPage = await loaded(page);
    const heavy = inPage.filter((p) => p.endsWith('.wasm') || p.startsWith('/magika/'));
    assert.deepEqual(heavy, [], 'the page itself loads neither the wasm nor the model');
    await page.close();
  } finally {
    await site.close();
  }
});

test('vite build, with no configuration, emits the wasm assets and the built app finds them', async () => {
  const { stdout } = await mustRun(bin('vite'), ['build'], { cwd: dirs.vite });
  const assets = readdirSync(join(dirs.vite, 'dist', 'assets'));
  const wasm = assets.filter((f) => f.endsWith('.wasm'));
  // The lite module and tract's, plain and relaxed SIMD, each also multi-threaded (through the
  // threads worker Vite bundles), not the full build's.
  const modules = [
    'onnxlet_lite_bg.wasm',
    'onnxlet_lite_relaxed_bg.wasm',
    'onnxlet_bg.wasm',
    'onnxlet_relaxed_bg.wasm',
    'onnxlet_lite_threads_bg.wasm',
    'onnxlet_lite_threads_relaxed_bg.wasm',
    'onnxlet_threads_bg.wasm',
    'onnxlet_threads_relaxed_bg.wasm',
  ];
  const shipped = modules.map((f) => readFileSync(join(dirs.vite, 'node_modules', 'onnxlet', 'dist', f)));
  assert.equal(wasm.length, 8, `eight .wasm assets expected in ${assets.join(', ')}\n${stdout}`);
  const emitted = wasm.map((asset) => readFileSync(join(dirs.vite, 'dist', 'assets', asset)));
  assert.deepEqual(
    shipped.map((s) => emitted.some((e) => e.equals(s))),
    modules.map(() => true),
    `the assets are ${modules.join(', ')}`,
  );
  assert.ok(statSync(join(dirs.vite, 'dist', 'magika', 'model.onnx')).isFile(), 'public/ is copied');

  const site = await serve({ '/': join(dirs.vite, 'dist') });
  try {
    const page = await driveMagikaPage(`${site.url}/`, 'vite-build');
    const paths = site.requests.map((r) => r.path);
    // magika runs on the lite engine: only its module (relaxed SIMD, in Chromium) is fetched.
    const lite = wasm[emitted.findIndex((e) => e.equals(shipped[1]))];
    assert.deepEqual(paths.filter((p) => p.endsWith('.wasm')), [`/assets/${lite}`]);
    assert.ok(paths.every((p) => !p.includes('node_modules')), paths.join('\n'));
    await page.close();
  } finally {
    await site.close();
  }
});

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** Starts `vite` (the dev server) in `dir`; resolves once it listens, to { url, output, stop }. */
async function startViteDev(dir) {
  const port = await freePort();
  const child = spawn(bin('vite'), ['--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
  });
  let output = '';
  const url = `http://127.0.0.1:${port}/`;
  await new Promise((resolve, reject) => {
    const onData = (data) => {
      output += data;
      if (output.includes(url)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`vite exited with ${code} before listening:\n${output}`)));
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill();
    });
  return { url, output: () => output, stop };
}

test('vite dev, with no configuration, serves the app and the wasm', async () => {
  const dev = await startViteDev(dirs.vite);
  try {
    const page = await driveMagikaPage(dev.url, 'vite-dev');
    const wasm = await page.evaluate(() =>
      performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('.wasm')),
    );
    assert.equal(wasm.length, 1, wasm.join('\n'));
    assert.match(new URL(wasm[0]).pathname, /onnxlet_lite_relaxed_bg\.wasm$/);
    await page.close();
  } finally {
    await dev.stop();
  }
  assert.doesNotMatch(dev.output(), /error/i, dev.output());
});
