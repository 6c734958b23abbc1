// "What is this file?": the magika model labels files, or whole folders, in a worker, as the magika
// Python package would. Only the first and last 4 KB of each file are read, in the page.
import { Tensor } from '/dist/onnxlet.mjs';

import { errorText, formatBytes, h, loadModel, privacyBadge } from '/common/demo.js';
import { bytesToRead, decide, loadMagikaConfig, prepare } from './magika.js';

const MODEL_DIR = '/models/magika/';
/** Files per model run: large enough to amortise a run, small enough to show progress often. */
const BATCH = 16;
const $ = (id) => document.getElementById(id);

const badge = privacyBadge($('badge'));
let magika;
/** Incremented for each new selection, so a newer one stops an older one. */
let generation = 0;
let results = [];

const ready = (async () => {
  const [session, { config, types }] = await Promise.all([
    loadModel(`${MODEL_DIR}model.onnx`, { progress: $('progress'), label: 'magika standard_v3_3 model.onnx' }),
    loadMagikaConfig(new URL(MODEL_DIR, location.href)),
  ]);
  magika = { session, config, types };
  badge.markReady();
  document.body.dataset.ready = 'true';
  return magika;
})();
ready.catch((error) => {
  if ($('progress').dataset.state !== 'error') $('progress').replaceChildren(h('p', { className: 'error' }, errorText(error)));
});

async function readSlice(file, start, end) {
  return new Uint8Array(await file.slice(start, end).arrayBuffer());
}

/** Reads what magika needs of one file, and decides it or returns its features. */
async function prepareFile({ file, path }, config) {
  const n = bytesToRead(file.size, config);
  const head = await readSlice(file, 0, n);
  const tail = file.size <= n ? head : await readSlice(file, file.size - n, file.size);
  return { path, size: file.size, ...prepare(file.size, head, tail, config) };
}

async function prepareBatch(entries, config) {
  return Promise.all(
    entries.map((entry) =>
      prepareFile(entry, config).catch((error) => ({
        path: entry.path,
        size: entry.file.size,
        result: { label: 'error', dlLabel: 'undefined', score: 0, reason: `cannot read: ${error.message}` },
      })),
    ),
  );
}

/** Runs the model on every prepared file that needs it, in one [N, 2048] int32 batch. */
async function label(prepared, { session, config, types }) {
  const pending = prepared.filter((p) => p.features);
  if (pending.length > 0) {
    const width = config.beg_size + config.end_size;
    const data = new Int32Array(pending.length * width);
    pending.forEach((p, i) => data.set(p.features, i * width));
    const input = new Tensor('int32', data, [pending.length, width]);
    const outputs = await session.run({ [session.inputNames[0]]: input });
    const scores = outputs[session.outputNames[0]].data;
    const classes = config.target_labels_space.length;
    pending.forEach((p, i) => {
      p.result = decide(scores.subarray(i * classes, (i + 1) * classes), config, types);
    });
  }
  return prepared.map(({ path, size, result }) => ({ path, size, ...result }));
}

const percent = (score) => `${(100 * score).toFixed(1)}%`;

function typeInfo(name) {
  return magika.types[name] ?? { label: name, description: name, group: 'unknown', mimeType: '' };
}

function showDetail(result) {
  const info = typeInfo(result.label);
  const card = $('detail');
  card.hidden = false;
  const rows = (result.top ?? []).map(({ label: name, score }) => [
    h('span', { className: 'mono' }, name),
    h('div', { className: 'bar', style: { width: `${Math.max(0.5, 100 * score)}%` } }),
    h('span', { className: 'value' }, percent(score)),
  ]);
  const parts = [
    h('h2', {}, result.path, h('span', { className: 'muted small' }, ` · ${formatBytes(result.size)}`)),
    h('div', { className: 'verdict', dataset: { label: result.label } },
      h('span', { className: 'verdict-label' }, info.description),
      h('span', { className: 'mono verdict-code' }, result.label),
      h('span', { className: 'verdict-score' }, percent(result.score))),
    h('p', { className: 'muted small' }, `group ${info.group} · MIME type ${info.mimeType}` +
      (info.extensions?.length ? ` · usual extensions ${info.extensions.map((e) => `.${e}`).join(' ')}` : '')),
    result.reason ? h('p', { className: 'muted small reason' }, result.top ? `Note: ${result.reason}.` : `Decided without the model: ${result.reason}.`) : null,
    rows.length ? h('p', { className: 'muted small' }, "The model's top 5 content types:") : null,
    rows.length ? h('div', { className: 'bars top5' }, rows) : null,
  ];
  card.replaceChildren(...parts.filter(Boolean));
}

function resultRow(result, index) {
  const info = typeInfo(result.label);
  const dl = result.dlLabel === 'undefined' ? '–' : result.dlLabel === result.label ? '' : result.dlLabel;
  return h('tr', { dataset: { index: String(index), path: result.path, label: result.label, score: String(result.score) } },
    h('td', { className: 'mono path' }, result.path),
    h('td', { className: 'num' }, formatBytes(result.size)),
    h('td', { className: 'mono label' }, result.label),
    h('td', { className: 'small' }, info.description),
    h('td', { className: 'num score' }, percent(result.score)),
    h('td', { className: 'mono small dl', title: result.reason ?? '' }, dl));
}

function updateSummary() {
  const counts = new Map();
  for (const r of results) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
  $('summary').replaceChildren(
    ...[...counts].sort((a, b) => b[1] - a[1]).map(([name, n]) => h('span', { className: 'chip' }, `${name} ${n}`)),
  );
}

/** Labels `entries` ([{ file, path }]) in batches, showing a running count and the throughput. */
async function classify(entries) {
  const mine = ++generation;
  results = [];
  $('results').tBodies[0].replaceChildren();
  $('summary').replaceChildren();
  $('detail').hidden = true;
  $('batch').hidden = false;
  $('error').textContent = '';
  const total = entries.length;
  const totalBytes = entries.reduce((sum, e) => sum + e.file.size, 0);
  $('count').max = Math.max(total, 1);
  $('count').value = 0;
  $('stats').textContent = total ? `Waiting for the model… 0 / ${total} files` : 'No files.';
  $('batch').dataset.state = 'running';
  let current;
  try {
    current = await ready;
  } catch {
    return;
  }
  const started = performance.now();
  let bytes = 0;
  try {
    let next = prepareBatch(entries.slice(0, BATCH), current.config);
    for (let i = 0; i < total; i += BATCH) {
      const prepared = await next;
      if (mine !== generation) return;
      next = i + BATCH < total ? prepareBatch(entries.slice(i + BATCH, i + 2 * BATCH), current.config) : undefined;
      const labelled = await label(prepared, current);
      if (mine !== generation) return;
      const body = $('results').tBodies[0];
      body.append(...labelled.map((r, j) => resultRow(r, results.length + j)));
      results.push(...labelled);
      bytes += labelled.reduce((sum, r) => sum + r.size, 0);
      const seconds = Math.max((performance.now() - started) / 1000, 1e-3);
      $('count').value = results.length;
      $('stats').textContent =
        `${results.length} / ${total} files · ${formatBytes(bytes)} of ${formatBytes(totalBytes)} · ` +
        `${(results.length / seconds).toFixed(1)} files/s · ${formatBytes(Math.round(bytes / seconds))}/s`;
      updateSummary();
    }
    $('batch').dataset.state = 'done';
    $('batch').dataset.count = String(results.length);
    if (results.length === 1) showDetail(results[0]);
  } catch (error) {
    if (mine !== generation) return;
    $('batch').dataset.state = 'error';
    $('error').textContent = errorText(error);
  }
}

/** Every file under a dropped directory entry, with its path relative to the drop. */
async function walk(entry) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [{ file, path: entry.fullPath.replace(/^\//, '') }];
  }
  const reader = entry.createReader();
  const children = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    children.push(...batch);
  }
  const nested = await Promise.all(children.map(walk));
  return nested.flat().sort((a, b) => a.path.localeCompare(b.path));
}

const fromInput = (input) =>
  [...input.files]
    .map((file) => ({ file, path: file.webkitRelativePath || file.name }))
    .sort((a, b) => a.path.localeCompare(b.path));

$('files').addEventListener('change', (e) => classify(fromInput(e.target)));
$('folder').addEventListener('change', (e) => classify(fromInput(e.target)));
$('results').addEventListener('click', (e) => {
  const row = e.target.closest('tr[data-index]');
  if (row) showDetail(results[Number(row.dataset.index)]);
});

const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const items = [...(e.dataTransfer?.items ?? [])].filter((item) => item.kind === 'file');
  const entries = items.map((item) => item.webkitGetAsEntry?.());
  if (entries.length > 0 && entries.every(Boolean)) {
    classify((await Promise.all(entries.map(walk))).flat());
  } else {
    classify([...(e.dataTransfer?.files ?? [])].map((file) => ({ file, path: file.name })));
  }
});
