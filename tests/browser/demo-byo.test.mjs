// The "Bring your own model" demo (www/byo/) in Chromium, driven like a user: the default model
// loads and runs; a model with an unknown operator shows the operator and the node; squeezenet
// picked from disk runs on seeded random inputs and on an uploaded image, and the outputs the page
// shows match onnxruntime-web (an independent runtime, in Node) on the same inputs, rebuilt here
// with the page's own input module.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deflateSync } from 'node:zlib';

import * as ort from 'onnxruntime-web';

import { imageInput, imageLayout, randomInputs } from '../../www/byo/inputs.js';
import { launch, openPage, serveTestSite } from '../support/browser.mjs';
import { modelsDir, root, testModel } from '../support/models.mjs';

const screenshots = join(root, 'test-results');
const squeezenet = join(modelsDir, 'squeezenet', 'model.onnx');
const magika = join(modelsDir, 'magika', 'model.onnx');
const ppocrCls = join(modelsDir, 'ppocr_cls', 'model.onnx');
let browser;
let site;
let scratch;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  scratch = mkdtempSync(join(tmpdir(), 'onnxlet-byo-'));
  ort.env.wasm.numThreads = 1;
  site = await serveTestSite();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Opens the demo; records requests, each marked with whether a model was ready when it was made. */
async function openDemo() {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console.error: ${m.text()}`));
  const requests = [];
  const state = { ready: false };
  page.on('request', (r) => requests.push({ url: r.url(), afterReady: state.ready, body: r.postData() ?? '' }));
  await page.goto(`${site.url}/byo/`);
  const waitReady = async () => {
    state.ready = false;
    await page.waitForSelector('#progress[data-state=ready]', { timeout: 120_000 });
    await page.waitForSelector('#run:not([disabled])');
    state.ready = true;
  };
  await waitReady();
  return { page, problems, requests, state, waitReady };
}

/** Picks a model file like a user and waits until it is loaded or has failed. */
async function pickModel(demo, file) {
  demo.state.ready = false;
  // Clear the previous model's final state first, so that the wait below cannot match it before
  // the page has started on the new file.
  await demo.page.evaluate(() => {
    document.getElementById('progress').dataset.state = 'picking';
  });
  await demo.page.setInputFiles('#file', file);
  await demo.page.waitForSelector('#progress[data-state=ready], #progress[data-state=error]', { timeout: 120_000 });
  if ((await demo.page.getAttribute('#progress', 'data-state')) === 'ready') await demo.waitReady();
}

/** Clicks Run (with `seed`) and returns the outputs as shown: first values and top 5. */
async function runShown(page, seed) {
  await page.fill('#seed', String(seed));
  await page.evaluate(() => document.getElementById('outputs').replaceChildren());
  await page.click('#run');
  await page.waitForSelector('#outputs .output');
  return page.$$eval('#outputs .output', (blocks) =>
    blocks.map((block) => ({
      name: block.dataset.name,
      title: block.querySelector('h3').textContent,
      first: block.querySelector('.first-values').textContent.replace('first values: ', '').replace(', …', '').split(', ').map(Number),
      top: [...block.querySelectorAll('.top5 .index')].map((span) => [
        Number(span.textContent.slice(1)),
        Number(span.nextElementSibling.nextElementSibling.textContent),
      ]),
    })),
  );
}

/** Runs `model` with onnxruntime-web on the given plain inputs. */
async function reference(model, inputs) {
  const session = await ort.InferenceSession.create(model);
  const feeds = Object.fromEntries(Object.entries(inputs).map(([name, v]) => [name, new ort.Tensor(v.type, v.data, v.dims)]));
  const outputs = await session.run(feeds);
  await session.release();
  return outputs;
}

/**
 * Asserts the shown output matches `expected`: the same shape, the first values and the top 5
 * within 1e-4 of the output's largest magnitude (plus the 5 significant digits shown).
 */
function assertOutputMatches(shown, expected) {
  assert.equal(shown.title, `${shown.name}: ${expected.type} [${expected.dims.join(', ')}]`);
  const values = Array.from(expected.data, Number);
  const scale = Math.max(...values.map(Math.abs));
  const close = (a, b) => Math.abs(a - b) <= 1e-4 * scale + 6e-5 * Math.abs(b);
  shown.first.forEach((v, i) => assert.ok(close(v, values[i]), `${shown.name}[${i}]: shown ${v}, onnxruntime ${values[i]}`));
  assert.equal(shown.first.length, Math.min(10, values.length));
  const sorted = [...values].sort((a, b) => b - a);
  assert.equal(shown.top.length, Math.min(5, values.length));
  shown.top.forEach(([index, v], rank) => {
    assert.ok(close(v, values[index]), `top ${rank}: #${index} shown ${v}, onnxruntime ${values[index]}`);
    assert.ok(close(v, sorted[rank]), `top ${rank}: shown ${v}, onnxruntime's ${rank + 1}th largest is ${sorted[rank]}`);
  });
}

/** No request while a model was ready (picking a model starts a worker, which fetches the library). */
async function assertPrivate(page, requests) {
  assert.deepEqual(requests.filter((r) => r.afterReady).map((r) => r.url), [], 'requests while a model was ready');
  assert.deepEqual(requests.filter((r) => r.body !== ''), [], 'a request carried a body');
  assert.equal(await page.getAttribute('#badge', 'data-requests'), '0');
}

/** A 24-bit RGB PNG of `width`×`height` with pixels from `pixel(x, y)`. */
function png(width, height, pixel) {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes) => (bytes.reduce((c, b) => table[(c ^ b) & 0xff] ^ (c >>> 8), 0xffffffff) ^ 0xffffffff) >>> 0;
  const chunk = (kind, data) => {
    const body = Buffer.concat([Buffer.from(kind, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc(height * (1 + 3 * width));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set(pixel(x, y), y * (1 + 3 * width) + 1 + 3 * x);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('the default model (magika) loads, runs on seeded inputs, and matches onnxruntime', async () => {
  const demo = await openDemo();
  const { page, problems, requests } = demo;
  assert.match(await page.textContent('#progress'), /magika standard_v3_3 \(default\): ready \(from network\) in \d+ ms/);
  assert.match(await page.textContent('#model-info'), /1 input\(s\), 1 output\(s\), created in \d+ ms/);
  assert.equal(await page.locator('#io tbody tr').count(), 2);
  assert.match(await page.textContent('#io tbody'), /input\s*bytes\s*int32\s*\[unk__214, 2048\]\s*seeded random, integers in \[0, 255\]/);
  assert.equal(await page.isHidden('#image-card'), true);
  const [shown] = await runShown(page, 42);
  assert.match(await page.textContent('#run-status'), /^create \d+ ms · run [\d.]+ ms · seed 42$/);
  const metadata = [{ name: 'bytes', type: 'int32', shape: ['unk__214', 2048] }];
  const expected = await reference(magika, randomInputs(metadata, 42));
  assertOutputMatches(shown, expected.target_label);
  await page.screenshot({ path: join(screenshots, 'demo-byo-default.png'), fullPage: true });
  await assertPrivate(page, requests);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a model with an unknown operator: the error names the operator and the node', async () => {
  const demo = await openDemo();
  const { page, problems, requests } = demo;
  await pickModel(demo, testModel('unsupported_op.onnx'));
  assert.equal(await page.getAttribute('#progress', 'data-state'), 'error');
  assert.equal(await page.getAttribute('#progress', 'data-code'), 'UNSUPPORTED_OPERATOR');
  assert.match(await page.textContent('#progress .error'), /^UNSUPPORTED_OPERATOR: .*FrobnicateTensor.*weird_node/);
  assert.equal(await page.isDisabled('#run'), true);
  assert.equal(await page.locator('#io tbody tr').count(), 0);
  await page.screenshot({ path: join(screenshots, 'demo-byo-error.png'), fullPage: true });
  assert.ok(requests.every((r) => r.url.startsWith(site.url)), 'a request left 127.0.0.1');
  assert.deepEqual(requests.filter((r) => r.url.includes('unsupported_op')), [], 'the picked file was fetched');
  assert.deepEqual(problems, []);
  await page.close();
});

test('squeezenet picked from disk runs on seeded inputs and matches onnxruntime', async () => {
  const demo = await openDemo();
  const { page, problems, requests } = demo;
  await pickModel(demo, squeezenet);
  assert.match(await page.textContent('#progress'), /model\.onnx: ready \(from local file\) in \d+ ms/);
  assert.match(await page.textContent('#io tbody'), /input\s*data_0\s*float32\s*\[1, 3, 224, 224\]/);
  assert.match(await page.textContent('#io tbody'), /output\s*softmaxout_1\s*float32\s*\[1, 1000, 1, 1\]/);
  assert.equal(await page.isVisible('#image-card'), true);
  assert.match(await page.textContent('#preprocessing'), /resized .* to 224×224.*ImageNet mean \(0\.485, 0\.456, 0\.406\).*\(0\.229, 0\.224, 0\.225\), laid out NCHW/);
  const metadata = [{ name: 'data_0', type: 'float32', shape: [1, 3, 224, 224] }];
  const [shown] = await runShown(page, 7);
  const expected = await reference(squeezenet, randomInputs(metadata, 7));
  assertOutputMatches(shown, expected.softmaxout_1);
  await page.screenshot({ path: join(screenshots, 'demo-byo-squeezenet.png'), fullPage: true });
  await assertPrivate(page, requests);
  assert.deepEqual(requests.filter((r) => r.url.includes('squeezenet')), [], 'the picked file was fetched');
  assert.deepEqual(problems, []);
  await page.close();
});

// squeezenet from onnx's test data has constant weights (its scores are all 0.001), so the image
// path is checked on a model with real weights: PP-OCR's text-direction classifier.
test('an uploaded image feeds an image model (PP-OCR cls) as stated, matching onnxruntime', async () => {
  const demo = await openDemo();
  const { page, problems, requests } = demo;
  await pickModel(demo, ppocrCls);
  assert.match(await page.textContent('#io tbody'), /input\s*x\s*float32\s*\[\?, 3, \?, \?\]\s*seeded random, uniform in \[-1, 1\), fed as \[1, 3, 224, 224\]/);
  const metadata = [{ name: 'x', type: 'float32', shape: ['?', 3, '?', '?'] }];
  const output = 'save_infer_model/scale_0.tmp_1';
  const [shown] = await runShown(page, 3);
  assertOutputMatches(shown, (await reference(ppocrCls, randomInputs(metadata, 3)))[output]);

  // An image of exactly 224×224 goes through the canvas unchanged, so its pixels are known here.
  const pixel = (x, y) => [(x * 7 + y) % 256, (y * 3) % 256, (x * y) % 256];
  const imagePath = join(scratch, 'pattern.png');
  writeFileSync(imagePath, png(224, 224, pixel));
  await page.setInputFiles('#image', imagePath);
  await page.waitForFunction(() => document.getElementById('image-status').textContent.includes('224×224'));
  assert.match(await page.textContent('#io tbody'), /image pattern\.png, 224×224, ImageNet-normalised, NCHW/);
  const [fromImage] = await runShown(page, 3);
  const rgba = new Uint8Array(224 * 224 * 4);
  for (let y = 0; y < 224; y++) for (let x = 0; x < 224; x++) rgba.set([...pixel(x, y), 255], 4 * (y * 224 + x));
  const feed = imageInput(metadata[0], imageLayout(metadata[0]), rgba);
  assertOutputMatches(fromImage, (await reference(ppocrCls, { x: feed }))[output]);
  assert.notDeepEqual(fromImage.first, shown.first, 'the image made no difference');
  await page.screenshot({ path: join(screenshots, 'demo-byo-image.png'), fullPage: true });

  await assertPrivate(page, requests);
  assert.deepEqual(requests.filter((r) => r.url.includes('ppocr') || r.url.includes('pattern')), [], 'a picked file was fetched');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the landing page links the four demos and says everything runs locally', async () => {
  const { page, problems } = await openPage(browser, `${site.url}/`);
  const links = await page.$$eval('.demo-list a', (anchors) => anchors.map((a) => a.getAttribute('href')));
  assert.deepEqual(links, ['/magika/', '/vad/', '/search/', '/byo/']);
  assert.match(await page.textContent('header'), /Everything runs locally/);
  assert.match(await page.textContent('#version'), /^\d+\.\d+\.\d+/);
  await page.screenshot({ path: join(screenshots, 'demo-index.png'), fullPage: true });
  await page.click('a[href="/byo/"]');
  await page.waitForSelector('#progress[data-state=ready]', { timeout: 120_000 });
  assert.equal(await page.textContent('h1'), 'Bring your own model');
  assert.deepEqual(problems, []);
  await page.close();
});
