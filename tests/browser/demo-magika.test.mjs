// The "What is this file?" demo (www/magika/) in Chromium: files, a folder and a dropped file are
// labelled exactly as the real magika Python package (1.0.3) labels them, with the same scores;
// the page makes no request once the model is ready, and the model comes from the cache on reload.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { CHROMIUM_FLAGS, launch, openPage, serveTestSite } from '../support/browser.mjs';
import { root } from '../support/models.mjs';

const screenshots = join(root, 'test-results');
const script = join(root, 'tests', 'support', 'magika_reference.py');
let browser;
let site;
let corpus;
/** Paths relative to the corpus, and magika's reference result for each. */
let files;
let reference;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  corpus = join(mkdtempSync(join(tmpdir(), 'onnxlet-magika-')), 'corpus');
  execFileSync('python3', [script, 'corpus', corpus]);
  files = readdirSync(corpus, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(corpus, join(d.parentPath, d.name)))
    .sort();
  const labels = JSON.parse(execFileSync('python3', [script, 'label', ...files], { cwd: corpus, encoding: 'utf8' }));
  reference = new Map(labels.map((r) => [r.path, r]));
  site = await serveTestSite();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
  if (corpus) rmSync(join(corpus, '..'), { recursive: true, force: true });
});

/**
 * Opens the demo and waits for the model; records every request the page and its worker make,
 * marking those made after the model was ready.
 */
async function openDemo() {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console.error: ${m.text()}`));
  const requests = [];
  const state = { ready: false };
  page.on('request', (r) => requests.push({ url: r.url(), afterReady: state.ready, body: r.postData() ?? '' }));
  await page.goto(`${site.url}/magika/`);
  await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
  state.ready = true;
  return { page, problems, requests };
}

/** The rows of the results table as the page shows them. */
function shownRows(page) {
  return page.$$eval('#results tbody tr', (rows) =>
    rows.map((row) => ({
      path: row.querySelector('.path').textContent,
      label: row.querySelector('.label').textContent,
      score: row.querySelector('.score').textContent,
    })),
  );
}

/** Asserts that each shown row has magika's label and score (the shown percentage within 1e-3). */
function assertMatchesMagika(rows, pathOf) {
  for (const row of rows) {
    const expected = reference.get(pathOf(row.path));
    assert.ok(expected, `no reference for ${row.path}`);
    assert.equal(row.label, expected.label, `${row.path}: label`);
    const score = Number(row.score.replace('%', '')) / 100;
    assert.ok(Math.abs(score - expected.score) <= 1e-3, `${row.path}: score ${row.score}, magika ${expected.score}`);
  }
}

/** No request after the model was ready, none carrying file contents, and the badge says so. */
async function assertPrivate(page, requests) {
  assert.deepEqual(requests.filter((r) => r.afterReady).map((r) => r.url), [], 'requests after the model was ready');
  assert.deepEqual(requests.filter((r) => r.body !== ''), [], 'a request carried a body');
  assert.equal(await page.getAttribute('#badge', 'data-requests'), '0');
  assert.match(await page.textContent('#badge'), /0 bytes of your data sent.*0 requests since the model loaded/);
}

test('the corpus exercises every rule: the model, empty and small files, the overwrite map, thresholds', () => {
  const labels = new Set([...reference.values()].map((r) => r.label));
  for (const label of ['python', 'javascript', 'json', 'html', 'csv', 'markdown', 'shell', 'png', 'zip', 'pdf', 'elf', 'empty', 'txt', 'unknown']) {
    assert.ok(labels.has(label), `magika labelled no file of the corpus ${label}`);
  }
  assert.ok([...reference.values()].some((r) => r.dl_label === 'undefined' && r.label === 'txt'), 'no small text file');
  assert.ok([...reference.values()].some((r) => r.dl_label === 'randombytes' && r.label === 'unknown'), 'no overwritten label');
  const lowConfidence = [...reference.values()].filter((r) => r.dl_label !== 'undefined' && r.label !== r.dl_label && r.label === 'txt');
  assert.ok(lowConfidence.some((r) => r.score < 0.5), 'no file under the medium-confidence threshold');
  assert.ok(lowConfidence.some((r) => r.score >= 0.5), 'no file under its label\'s own threshold only');
});

test('one file: the page shows magika\'s label, score and the model\'s top 5', async () => {
  const { page, problems, requests } = await openDemo();
  await page.screenshot({ path: join(screenshots, 'demo-magika-ready.png'), fullPage: true });
  assert.match(await page.textContent('#progress'), /ready \(from (network|cache)\) in \d+ ms/);
  assert.ok(requests.some((r) => r.url.endsWith('/models/magika/model.onnx')), 'the model was not requested');
  assert.ok(requests.some((r) => r.url.endsWith('/dist/onnxlet.worker.mjs')), 'no worker was started');

  await page.setInputFiles('#files', join(corpus, 'fetch_models.py'));
  await page.waitForSelector('#detail:not([hidden]) .verdict');
  const expected = reference.get('fetch_models.py');
  assert.equal(await page.getAttribute('#detail .verdict', 'data-label'), expected.label);
  assert.equal(await page.textContent('#detail .verdict-label'), 'Python source');
  const score = Number((await page.textContent('#detail .verdict-score')).replace('%', '')) / 100;
  assert.ok(Math.abs(score - expected.score) <= 1e-3);
  const top = await page.$$eval('#detail .top5 .mono', (spans) => spans.map((s) => s.textContent));
  assert.equal(top.length, 5);
  assert.equal(top[0], expected.dl_label);
  assert.match(await page.textContent('#stats'), /^1 \/ 1 files/);
  await page.screenshot({ path: join(screenshots, 'demo-magika-single.png'), fullPage: true });
  await assertPrivate(page, requests);
  assert.deepEqual(problems, []);
  await page.close();
});

test('many files: every label and score is magika\'s, with a running count', async () => {
  const { page, problems, requests } = await openDemo();
  await page.setInputFiles('#files', files.map((f) => join(corpus, f)));
  await page.waitForSelector('#batch[data-state=done]', { timeout: 120_000 });
  const rows = await shownRows(page);
  assert.equal(rows.length, files.length);
  const byName = new Map(files.map((f) => [basename(f), f]));
  assert.equal(byName.size, files.length, 'the corpus has two files with the same name');
  assertMatchesMagika(rows, (shown) => byName.get(shown));
  assert.match(await page.textContent('#stats'), new RegExp(`^${files.length} / ${files.length} files .* [\\d.]+ files/s · [\\d.]+ [KMG]?B/s$`));
  await page.click('#results tbody tr[data-path="mixed.tex"]');
  assert.equal(await page.getAttribute('#detail .verdict', 'data-label'), 'txt');
  assert.match(await page.textContent('#detail .reason'), /low confidence: latex scored below its threshold 0\.95/);
  assert.equal((await page.$$eval('#detail .top5 .mono', (spans) => spans.map((s) => s.textContent)))[0], 'latex');
  await page.click('#results tbody tr[data-path="random.bin"]');
  assert.equal(await page.getAttribute('#detail .verdict', 'data-label'), 'unknown');
  assert.match(await page.textContent('#detail .reason'), /randombytes is reported as unknown/);
  await page.screenshot({ path: join(screenshots, 'demo-magika-files.png'), fullPage: true });
  await assertPrivate(page, requests);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a folder: files in subfolders are labelled, and the count covers them all', async () => {
  const { page, problems, requests } = await openDemo();
  await page.setInputFiles('#folder', corpus);
  await page.waitForSelector('#batch[data-state=done]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('#batch', 'data-count'), String(files.length));
  assert.equal(await page.getAttribute('#count', 'value'), String(files.length));
  const rows = await shownRows(page);
  assert.deepEqual(rows.map((r) => r.path).sort(), files.map((f) => `corpus/${f}`).sort());
  assertMatchesMagika(rows, (shown) => shown.slice('corpus/'.length));
  await page.screenshot({ path: join(screenshots, 'demo-magika-folder.png'), fullPage: true });
  await assertPrivate(page, requests);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a dropped file is labelled; on reload the model comes from the cache, with no request', async () => {
  const { page, problems, requests } = await openDemo();
  const name = 'weather.csv';
  const bytes = [...readFileSync(join(corpus, name))];
  await page.evaluate(
    ({ name, bytes }) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(bytes)], name));
      const drop = document.getElementById('drop');
      drop.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      drop.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    },
    { name, bytes },
  );
  await page.waitForSelector('#detail:not([hidden]) .verdict');
  assert.equal(await page.getAttribute('#detail .verdict', 'data-label'), reference.get(name).label);
  await page.screenshot({ path: join(screenshots, 'demo-magika-drop.png'), fullPage: true });
  await assertPrivate(page, requests);

  const modelRequests = () => requests.filter((r) => r.url.endsWith('/models/magika/model.onnx')).length;
  const before = modelRequests();
  await page.reload();
  await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
  assert.match(await page.textContent('#progress'), /ready \(from cache\)/);
  assert.equal(modelRequests(), before, 'the cached model was fetched again');
  assert.deepEqual(problems, []);
  await page.close();
});

test('over plain HTTP from a host that is not localhost (no Cache API), the demo still works', async () => {
  // demo.test resolves to the test server; http://demo.test is not a secure context.
  const insecure = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_FLAGS, '--host-resolver-rules=MAP demo.test 127.0.0.1'],
  });
  try {
    const { page, problems } = await openPage(insecure, `${site.url.replace('127.0.0.1', 'demo.test')}/magika/`);
    await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
    assert.deepEqual(await page.evaluate(() => [isSecureContext, typeof caches]), [false, 'undefined']);
    assert.match(await page.textContent('#progress'), /ready \(from network\)/);
    await page.setInputFiles('#files', join(corpus, 'hello.pdf'));
    await page.waitForSelector('#detail:not([hidden]) .verdict');
    assert.equal(await page.getAttribute('#detail .verdict', 'data-label'), reference.get('hello.pdf').label);
    await page.screenshot({ path: join(screenshots, 'demo-magika-plain-http.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await insecure.close();
  }
});

test('while the model downloads, the bar and the line show the bytes received and the percentage', async () => {
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  // About 3 s for the 3.2 MB model, so the download is seen in progress.
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: 1024 * 1024,
    uploadThroughput: -1,
  });
  await page.goto(`${site.url}/magika/`);
  const line = /^Downloading magika standard_v3_3 model\.onnx: [\d.]+ \/ 3\.0 MB \((\d+)%\)$/;
  await page.waitForFunction(
    (source) => {
      const match = new RegExp(source).exec(document.querySelector('#progress .progress-text')?.textContent ?? '');
      return match && Number(match[1]) >= 10 && Number(match[1]) <= 90;
    },
    line.source,
    { timeout: 120_000 },
  );
  const [text, value] = await page.$eval('#progress', (p) => [p.querySelector('.progress-text').textContent, p.querySelector('progress').value]);
  const percent = Number(line.exec(text)[1]);
  assert.ok(Math.abs(100 * value - percent) <= 1, `bar at ${value}, text says ${percent}%`);
  await page.screenshot({ path: join(screenshots, 'demo-magika-downloading.png'), fullPage: true });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
  await page.close();
});
