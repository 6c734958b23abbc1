// "Semantic search, offline": the documents and the query are embedded by all-MiniLM-L6-v2 in a
// worker, tokenized by wordpiece.js in the page, and ranked by cosine similarity as you type.
import { errorText, h, loadModel, privacyBadge } from '/common/demo.js';
import { SentenceEncoder, dot } from './embed.js';
import { WordPieceTokenizer } from './wordpiece.js';

const MODEL_DIR = '/models/minilm/';
const DEBOUNCE_MS = 150;
const $ = (id) => document.getElementById(id);

const badge = privacyBadge($('badge'));
let encoder;
/** The embedded documents: { text, embedding, ms, tokens }. */
let documents = [];
let embeddedText = null;
let embedding = false;
/** The query the results show, a search in progress, and the latest query typed meanwhile. */
let lastQuery = null;
let searching = false;
let pending = null;

/**
 * tokenizer.json from the Cache API after the first visit (like the model, with cache: true),
 * where the page may use it; from the network otherwise.
 */
async function fetchCached(url) {
  const href = new URL(url, location.href).href;
  const cache = typeof caches !== 'undefined' && isSecureContext ? await caches.open('onnxlet-demo-files').catch(() => null) : null;
  const hit = await cache?.match(href);
  if (hit) return hit;
  const response = await fetch(href);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  await cache?.put(href, response.clone());
  return response;
}

function setStatus(element, state, text) {
  element.dataset.state = state;
  element.textContent = text;
}

const ms = (value) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;

/** Lists the documents, ranked by `scores` when given (highest first), else in their order. */
function renderResults(scores = null, query = '') {
  const order = documents.map((_, i) => i);
  if (scores) order.sort((a, b) => scores[b] - scores[a]);
  const items = order.map((i) => {
    const doc = documents[i];
    const score = scores?.[i];
    return h(
      'li',
      { className: scores ? '' : 'unranked', dataset: { index: String(i), ...(scores ? { score: String(score) } : {}) } },
      h('span', { className: 'score' }, scores ? score.toFixed(3) : `#${i + 1}`),
      h('span', { className: 'track' }, scores ? h('span', { className: 'bar', style: { width: `${Math.max(0, score) * 100}%`, display: 'block' } }) : null),
      h('span', { className: 'text' }, doc.text),
      h('span', { className: 'time', title: `${doc.tokens} tokens` }, `embedded in ${ms(doc.ms)}`),
    );
  });
  $('results').replaceChildren(...items);
  $('results').dataset.query = query;
  $('results').dataset.state = scores ? 'ranked' : 'listed';
}

async function embedDocuments() {
  const text = $('docs').value;
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) {
    setStatus($('embed-status'), 'error', 'Type at least one document, one per line.');
    return;
  }
  embedding = true;
  $('embed').disabled = true;
  $('query').disabled = true;
  const embedded = [];
  const started = performance.now();
  try {
    for (const [i, line] of lines.entries()) {
      setStatus($('embed-status'), 'embedding', `Embedding ${i + 1} / ${lines.length}…`);
      const t = performance.now();
      const { embedding: vector, tokens } = await encoder.embed(line);
      embedded.push({ text: line, embedding: vector, ms: performance.now() - t, tokens });
    }
  } catch (error) {
    setStatus($('embed-status'), 'error', errorText(error));
    return;
  } finally {
    embedding = false;
    $('embed').disabled = false;
  }
  const total = performance.now() - started;
  documents = embedded;
  embeddedText = text;
  setStatus($('embed-status'), 'done', `Embedded ${lines.length} document${lines.length === 1 ? '' : 's'} in ${ms(total)}, ${ms(total / lines.length)} each on average.`);
  $('embed-status').dataset.count = String(lines.length);
  $('query').disabled = false;
  $('latency').textContent = 'Type a query: the documents are ranked as you type.';
  lastQuery = null;
  search($('query').value);
}

/** Ranks the documents for `query`; queries typed meanwhile wait, and only the latest runs. */
async function search(query) {
  if (searching) {
    pending = query;
    return;
  }
  if (query === lastQuery) return;
  searching = true;
  try {
    if (query.trim() === '') {
      renderResults(null, '');
      $('latency').textContent = 'Type a query: the documents are ranked as you type.';
    } else {
      const started = performance.now();
      const { embedding: vector, tokens } = await encoder.embed(query);
      const embedded = performance.now() - started;
      const scores = documents.map((doc) => dot(doc.embedding, vector));
      renderResults(scores, query);
      const total = performance.now() - started;
      setStatus($('latency'), 'ranked', `Query: ${tokens} tokens embedded in ${ms(embedded)}, ${documents.length} documents ranked, ${ms(total)} in all.`);
      $('latency').dataset.ms = total.toFixed(1);
    }
    lastQuery = query;
  } catch (error) {
    setStatus($('latency'), 'error', errorText(error));
  } finally {
    searching = false;
  }
  if (pending !== null) {
    const next = pending;
    pending = null;
    search(next);
  }
}

let debounce;
$('query').addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(() => search($('query').value), DEBOUNCE_MS);
});
$('embed').addEventListener('click', () => embedDocuments());
$('docs').addEventListener('input', () => {
  if (embeddedText !== null && !embedding && $('docs').value !== embeddedText) {
    setStatus($('embed-status'), 'stale', 'The documents changed: press Embed to search the new ones.');
  }
});

(async () => {
  try {
    const [session, tokenizer] = await Promise.all([
      loadModel(`${MODEL_DIR}model.onnx`, { progress: $('progress'), label: 'all-MiniLM-L6-v2 model.onnx' }),
      fetchCached(`${MODEL_DIR}tokenizer.json`).then(async (r) => new WordPieceTokenizer(await r.json())),
    ]);
    encoder = new SentenceEncoder(session, tokenizer);
    // The first run of a session prepares its plan: do it before the user's first query.
    await encoder.embed('warm up');
    badge.markReady();
    $('embed').disabled = false;
    setStatus($('embed-status'), 'ready', 'Ready: press Embed to embed the documents.');
  } catch (error) {
    setStatus($('embed-status'), 'error', errorText(error));
  }
})();
