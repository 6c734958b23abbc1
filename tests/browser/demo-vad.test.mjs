// The voice activity demo (www/vad/) in Chromium, driven like a user: "Play sample" plays the
// bundled WAV in real time, and the per-chunk probabilities and the speech segments the page
// shows must match onnxruntime with the same stateful loop and silero-vad's own segmentation
// (tests/support/vad_reference.py). A second browser with Chromium's fake microphone checks
// that microphone audio flows through the worklet to the model.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { CHROMIUM_FLAGS, launch, openPage, serveTestSite } from '../support/browser.mjs';
import { modelsDir, root } from '../support/models.mjs';

const RATE = 16000;
const results = join(root, 'test-results');
let site;
let browser;
let reference;

before(async () => {
  mkdirSync(results, { recursive: true });
  const output = execFileSync('python3', [
    join(root, 'tests', 'support', 'vad_reference.py'),
    join(root, 'www', 'vad', 'sample.wav'),
    join(modelsDir, 'silero_vad', 'model.onnx'),
  ]);
  reference = JSON.parse(output.toString());
  site = await serveTestSite();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

/** Opens the demo and waits for the model; `requests` then collects every later request. */
async function openDemo(b) {
  const { page, problems } = await openPage(b, `${site.url}/vad/`);
  const requests = [];
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.vadState), null, { timeout: 120_000 });
  assert.equal(await page.getAttribute('#status', 'data-state'), 'ready', await page.textContent('#status'));
  page.on('request', (r) => requests.push(r.url()));
  return { page, problems, requests };
}

test('Play sample: the probabilities and segments shown match onnxruntime and silero-vad', async () => {
  const { page, problems, requests } = await openDemo(browser);
  assert.equal(await page.getAttribute('#progress', 'data-state'), 'ready');

  await page.click('#play-sample');
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.vadState), null, { timeout: 120_000 });
  assert.equal(await page.getAttribute('#status', 'data-state'), 'done', await page.textContent('#status'));
  const shown = await page.evaluate(() => ({ ...window.__vad }));

  assert.equal(shown.source, 'sample');
  assert.equal(shown.sampleCount, reference.sampleCount);
  assert.equal(shown.probs.length, reference.probs.length);
  const worst = shown.probs.reduce(
    (w, p, i) => (Math.abs(p - reference.probs[i]) > w.diff ? { diff: Math.abs(p - reference.probs[i]), i } : w),
    { diff: 0, i: -1 },
  );
  assert.ok(worst.diff <= 1e-3, `chunk ${worst.i}: ${shown.probs[worst.i]} vs onnxruntime ${reference.probs[worst.i]}`);
  assert.ok(reference.segments.length >= 3, 'the sample should have several speech segments');
  assert.deepEqual(shown.segments, reference.segments);

  const rows = await page.$$eval('#segments tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  const seconds = (samples) => `${(samples / RATE).toFixed(2)} s`;
  assert.deepEqual(
    rows,
    reference.segments.map((s, i) => [String(i + 1), seconds(s.start), seconds(s.end), seconds(s.end - s.start)]),
  );
  assert.equal(await page.getAttribute('#timing', 'data-count'), String(reference.probs.length));
  assert.match(await page.textContent('#mean-ms'), /^\d+\.\d\d ms$/);
  assert.match(await page.textContent('#max-ms'), /^\d+\.\d\d ms$/);

  assert.deepEqual(requests, [], 'requests after the model was ready');
  assert.equal(await page.getAttribute('#badge', 'data-requests'), '0');
  assert.match(await page.textContent('#badge'), /0 bytes of your data sent/);
  await page.screenshot({ path: join(results, 'demo-vad.png'), fullPage: true });

  await page.reload();
  await page.waitForFunction(() => document.body.dataset.vadState === 'ready', null, { timeout: 120_000 });
  assert.equal(await page.getAttribute('#progress', 'data-source'), 'cache', 'the second visit did not use the cached model');
  assert.ok(!requests.some((url) => url.endsWith('/model.onnx')), 'the second visit downloaded the model again');
  assert.deepEqual(problems, []);
  await page.close();
});

test('Use microphone: chunks from the fake microphone flow through the worklet and the model', async () => {
  const micBrowser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_FLAGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const { page, problems, requests } = await openDemo(micBrowser);
    await page.click('#mic');
    await page.waitForFunction(() => window.__vad?.probs.length >= 40 || document.body.dataset.vadState === 'error', null, { timeout: 60_000 });
    assert.equal(await page.getAttribute('#status', 'data-state'), 'running', await page.textContent('#status'));
    assert.match(await page.textContent('#status'), /Listening \(microphone at \d+ Hz, resampled to 16 kHz\)/);
    await page.click('#stop');
    await page.waitForFunction(() => document.body.dataset.vadState === 'done');
    const shown = await page.evaluate(() => ({ ...window.__vad }));
    assert.equal(shown.source, 'mic');
    assert.ok(shown.probs.length >= 40);
    assert.ok(shown.probs.every((p) => p >= 0 && p <= 1), 'probabilities outside [0, 1]');
    assert.ok(Math.max(...shown.levels) > 0.01, `the microphone chunks are silent (RMS at most ${Math.max(...shown.levels)})`);
    assert.equal(shown.sampleCount, shown.probs.length * 512);
    assert.equal(await page.getAttribute('#timing', 'data-count'), String(shown.probs.length));
    assert.deepEqual(requests, [], 'requests after the model was ready');
    await page.screenshot({ path: join(results, 'demo-vad-mic.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await micBrowser.close();
  }
});

test('over plain HTTP from another host (no secure context): the sample works, the microphone says why not', async () => {
  const insecure = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_FLAGS, '--host-resolver-rules=MAP demo.test 127.0.0.1'],
  });
  try {
    const { page, problems } = await openPage(insecure, `${site.url.replace('127.0.0.1', 'demo.test')}/vad/`);
    assert.equal(await page.evaluate(() => isSecureContext), false);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.vadState), null, { timeout: 120_000 });
    assert.equal(await page.getAttribute('#status', 'data-state'), 'ready', await page.textContent('#status'));
    assert.equal(await page.getAttribute('#progress', 'data-source'), 'network');

    await page.click('#play-sample');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.vadState), null, { timeout: 120_000 });
    assert.equal(await page.getAttribute('#status', 'data-state'), 'done', await page.textContent('#status'));
    assert.deepEqual(await page.evaluate(() => window.__vad.segments), reference.segments);

    await page.click('#mic');
    await page.waitForFunction(() => document.body.dataset.vadState === 'error');
    assert.match(await page.textContent('#status'), /The microphone needs a secure context \(HTTPS, or http:\/\/localhost\)/);
    assert.equal(await page.isEnabled('#play-sample'), true);
    assert.equal(await page.locator('#segments tbody tr').count(), reference.segments.length, 'the sample\'s results are gone');
    await page.screenshot({ path: join(results, 'demo-vad-insecure.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await insecure.close();
  }
});
