// The privacy guarantee: under a strict CSP (no unsafe-eval, no inline scripts, no blob:; worker
// mode needs nothing more), a page loads a model and runs it on text the user types; from the moment the model is ready no
// request at all leaves the page, and no request ever carries the user's text.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launch, serveTestSite } from '../support/browser.mjs';

let browser;
let site;

before(async () => {
  site = await serveTestSite();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

for (const mode of ['main thread', 'worker']) {
  test(`${mode}: no request after the model is ready, and none carries the typed text`, async () => {
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console.error: ${m.text()}`));
    const requests = [];
    let ready = false;
    page.on('request', (r) => requests.push({ url: r.url(), afterReady: ready, body: r.postData() ?? '' }));

    await page.goto(`${site.url}/pages/privacy.html${mode === 'worker' ? '?worker' : ''}`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'ready', null, { timeout: 60_000 });
    ready = true;
    const secret = 'Dear diary, my PIN is 4921 and nobody may know it.';
    await page.fill('#text', secret);
    await page.click('#classify');
    await page.waitForFunction(() => document.getElementById('result').textContent !== '');
    assert.match(await page.textContent('#result'), /^label #\d+ \(\d\.\d{3}\)$/);
    // Let anything deferred (beacons, prefetches) surface before checking.
    await page.waitForTimeout(500);

    assert.ok(requests.some((r) => r.url.endsWith('/dist/onnxlet_lite_relaxed_bg.wasm')), 'the wasm was not requested');
    if (mode === 'worker') assert.ok(requests.some((r) => r.url.endsWith('/dist/onnxlet.worker.mjs')), 'no worker was started');
    assert.ok(requests.some((r) => r.url.endsWith('/models/magika/model.onnx')), 'the model was not requested');
    assert.deepEqual(requests.filter((r) => r.afterReady).map((r) => r.url), [], 'requests after the model was ready');
    assert.deepEqual(requests.filter((r) => r.body.includes('4921') || r.body.includes('diary')), []);
    assert.ok(requests.every((r) => r.url.startsWith(site.url)), 'a request left 127.0.0.1');
    assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
    assert.deepEqual(problems, []);
    await page.close();
  });
}
