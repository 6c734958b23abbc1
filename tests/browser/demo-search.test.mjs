// The semantic search demo (www/search/) in Chromium, driven like a user: edit the documents,
// press Embed, type a query; the ranking and the scores shown must match onnxruntime with the
// `tokenizers` package and sentence-transformers' pooling (tests/support/search_reference.py).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { CHROMIUM_FLAGS, launch, openPage, serveTestSite } from '../support/browser.mjs';
import { modelsDir, root } from '../support/models.mjs';

const results = join(root, 'test-results');
let site;
let browser;

before(async () => {
  mkdirSync(results, { recursive: true });
  site = await serveTestSite();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

function reference(documents, queries) {
  const output = execFileSync('python3', [join(root, 'tests', 'support', 'search_reference.py'), join(modelsDir, 'minilm')], {
    input: JSON.stringify({ documents, queries }),
  });
  return JSON.parse(output.toString()).scores;
}

async function openDemo(b = browser, url = `${site.url}/search/`) {
  const { page, problems } = await openPage(b, url);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('embed-status').dataset.state), null, { timeout: 180_000 });
  assert.equal(await page.getAttribute('#embed-status', 'data-state'), 'ready', await page.textContent('#embed-status'));
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), body: r.postData() ?? '' }));
  return { page, problems, requests };
}

async function embed(page, count) {
  await page.click('#embed');
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('embed-status').dataset.state), null, { timeout: 120_000 });
  assert.equal(await page.getAttribute('#embed-status', 'data-state'), 'done', await page.textContent('#embed-status'));
  assert.equal(await page.getAttribute('#embed-status', 'data-count'), String(count));
}

/** Types `query` key by key and waits for the ranking of the whole query. */
async function typeQuery(page, query) {
  await page.click('#query');
  await page.fill('#query', '');
  await page.keyboard.type(query, { delay: 40 });
  await page.waitForFunction(
    (q) => document.getElementById('results').dataset.query === q || document.getElementById('latency').dataset.state === 'error',
    query,
    { timeout: 60_000 },
  );
  assert.notEqual(await page.getAttribute('#latency', 'data-state'), 'error', await page.textContent('#latency'));
  return page.$$eval('#results li', (items) =>
    items.map((li) => ({ index: Number(li.dataset.index), shown: li.querySelector('.score').textContent, text: li.querySelector('.text').textContent })),
  );
}

/** The shown ranking has the reference's order and its scores to 3 decimals (within 1e-3). */
function assertRanking(shown, documents, scores, label) {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const gaps = order.slice(1).map((d, k) => scores[order[k]] - scores[d]);
  assert.ok(Math.min(...gaps) > 1e-4, `${label}: the reference has near-ties, the order is not a fair check`);
  assert.deepEqual(shown.map((r) => r.index), order, `${label}: order`);
  for (const row of shown) {
    assert.equal(row.text, documents[row.index]);
    assert.match(row.shown, /^-?\d\.\d{3}$/);
    const diff = Math.abs(Number(row.shown) - scores[row.index]);
    assert.ok(diff <= 1e-3, `${label}: "${row.text}" shows ${row.shown}, onnxruntime gives ${scores[row.index]}`);
  }
}

test('the prefilled documents, embedded and ranked for a typed query', async () => {
  const { page, problems, requests } = await openDemo();
  const documents = (await page.inputValue('#docs')).split('\n').filter((l) => l.trim() !== '');
  assert.ok(documents.length >= 12, `only ${documents.length} example documents`);
  await embed(page, documents.length);
  assert.deepEqual(await page.$$eval('#results li .time', (els) => els.map((e) => /^embedded in \d+(\.\d)? ms$/.test(e.textContent))), documents.map(() => true));

  const query = 'Which planet is the biggest?';
  const [scores] = reference(documents, [query]);
  const shown = await typeQuery(page, query);
  assertRanking(shown, documents, scores, query);
  assert.match(shown[0].text, /Jupiter/);
  assert.match(await page.textContent('#latency'), /^Query: \d+ tokens embedded in [\d.]+ ms, \d+ documents ranked, [\d.]+ ms in all\.$/);
  assert.equal(await page.getAttribute('#badge', 'data-requests'), '0');
  await page.screenshot({ path: join(results, 'demo-search.png'), fullPage: true });

  assert.deepEqual(requests.map((r) => r.url), [], 'requests after the model was ready');

  await page.reload();
  await page.waitForFunction(() => document.getElementById('embed-status').dataset.state === 'ready', null, { timeout: 180_000 });
  assert.equal(await page.getAttribute('#progress', 'data-source'), 'cache', 'the second visit did not use the cached model');
  const fetched = requests.map((r) => new URL(r.url).pathname).filter((p) => p.startsWith('/models/'));
  assert.deepEqual(fetched, [], 'the second visit downloaded the model or the tokenizer again');
  assert.deepEqual(problems, []);
  await page.close();
});

test('documents typed by the user: accents, CJK, emoji, a text past 128 tokens; two queries', async () => {
  const { page, problems, requests } = await openDemo();
  const documents = [
    'Le café de la gare ouvre à six heures et sert des croissants.',
    'The cat sat on the warm windowsill all afternoon 🐈☀️',
    '东京是日本的首都，人口超过一千万。',
    'Quarterly revenue grew 12% to $4.5 billion, beating analysts’ forecasts.',
    'My laptop battery drains quickly when the screen brightness is high.',
    `Hiking notes: ${'we walked along the ridge, crossed the stream and climbed again; '.repeat(20)}finally the summit.`,
    'Vaccines train the immune system to recognise a virus.',
  ];
  await page.fill('#docs', documents.slice(0, -1).join('\n'));
  await page.focus('#docs');
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type(documents.at(-1));
  await embed(page, documents.length);

  const queries = ['how long does my computer battery last?', 'mountain walk'];
  const scores = reference(documents, queries);
  for (const [q, query] of queries.entries()) {
    const shown = await typeQuery(page, query);
    assertRanking(shown, documents, scores[q], query);
  }

  await page.fill('#docs', `${documents[0]}\nA new line`);
  assert.equal(await page.getAttribute('#embed-status', 'data-state'), 'stale');
  assert.deepEqual(requests.filter((r) => documents.some((d) => r.body.includes(d.slice(0, 12)))), []);
  assert.deepEqual(requests.map((r) => r.url), [], 'requests after the model was ready');
  assert.deepEqual(problems, []);
  await page.close();
});

test('over plain HTTP from another host (no secure context, no Cache API): search still works', async () => {
  const insecure = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_FLAGS, '--host-resolver-rules=MAP demo.test 127.0.0.1'],
  });
  try {
    const { page, problems, requests } = await openDemo(insecure, `${site.url.replace('127.0.0.1', 'demo.test')}/search/`);
    assert.deepEqual(await page.evaluate(() => [isSecureContext, typeof caches]), [false, 'undefined']);
    assert.equal(await page.getAttribute('#progress', 'data-source'), 'network');
    const documents = ['Rain is expected all weekend in the north.', 'The recipe needs two eggs and a cup of flour.', 'The bank opens at nine.'];
    await page.fill('#docs', documents.join('\n'));
    await embed(page, documents.length);
    const query = 'what do I need to bake a cake';
    const [scores] = reference(documents, [query]);
    assertRanking(await typeQuery(page, query), documents, scores, query);
    assert.deepEqual(requests.map((r) => r.url), [], 'requests after the model was ready');
    assert.deepEqual(problems, []);
  } finally {
    await insecure.close();
  }
});
