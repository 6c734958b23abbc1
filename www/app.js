import { InferenceSession, Tensor, env } from '/dist/onnxlet.mjs';

const DEFAULT_MODEL = '/models/magika/model.onnx';
const $ = (id) => document.getElementById(id);
let session;

$('version').textContent = env.versions.onnxlet;

function setStatus(id, text, isError = false) {
  $(id).textContent = text;
  $(id).className = isError ? 'error' : 'muted';
}

/** A small seeded generator (mulberry32), so a run is reproducible. */
function random(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeInput(meta, next) {
  const dims = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
  const size = dims.reduce((a, b) => a * b, 1);
  const fill = {
    float32: () => next() * 2 - 1,
    float64: () => next() * 2 - 1,
    int32: () => Math.floor(next() * 256),
    int64: () => BigInt(Math.floor(next() * 256)),
    uint8: () => Math.floor(next() * 256),
    int8: () => Math.floor(next() * 256) - 128,
    bool: () => next() < 0.5,
  }[meta.type] ?? (() => 0);
  if (meta.name === 'sr') return new Tensor(meta.type, [meta.type === 'int64' ? 16000n : 16000], dims);
  return new Tensor(meta.type, Array.from({ length: size }, fill), dims);
}

function showModel(name, bytes, ms) {
  setStatus('model-status', `${name}: ${(bytes / 1024).toFixed(0)} KB, loaded in ${ms.toFixed(0)} ms`);
  const rows = [
    ...session.inputMetadata.map((m) => ['input', m]),
    ...session.outputMetadata.map((m) => ['output', m]),
  ];
  $('io').tBodies[0].replaceChildren(
    ...rows.map(([kind, m]) => {
      const tr = document.createElement('tr');
      for (const text of [kind, m.name, m.type, `[${m.shape.join(', ')}]`]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
  $('run').disabled = false;
  $('outputs').replaceChildren();
  setStatus('run-status', '');
}

async function load(source, name) {
  $('run').disabled = true;
  setStatus('model-status', `Loading ${name}…`);
  try {
    const started = performance.now();
    let bytes = 0;
    const onProgress = (e) => {
      bytes = e.loaded;
      const text =
        e.status === 'download'
          ? `Downloading ${name}: ${(e.loaded / 1024).toFixed(0)} KB${e.progress === undefined ? '' : ` (${Math.round(100 * e.progress)}%)`}`
          : `Preparing ${name}…`;
      setStatus('model-status', text);
    };
    await session?.release();
    session = await InferenceSession.create(source, { onProgress });
    showModel(name, bytes, performance.now() - started);
  } catch (error) {
    session = undefined;
    setStatus('model-status', `${error.code ?? 'Error'}: ${error.message}`, true);
  }
}

function renderOutput(name, tensor) {
  const div = document.createElement('div');
  div.className = 'output';
  const title = document.createElement('h3');
  title.textContent = `${name}: ${tensor.type} [${tensor.dims.join(', ')}]`;
  div.append(title);
  const values = Array.from(tensor.data, Number);
  const last = tensor.dims[tensor.dims.length - 1] ?? 1;
  if (tensor.type.startsWith('float') && last > 1) {
    const top = values.slice(0, last).map((v, i) => [i, v]).sort((a, b) => b[1] - a[1]).slice(0, 5);
    const max = Math.max(...top.map(([, v]) => Math.abs(v)), 1e-12);
    const bars = document.createElement('div');
    bars.className = 'bars';
    for (const [i, v] of top) {
      const label = document.createElement('span');
      label.textContent = `#${i}`;
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.width = `${Math.max(2, (100 * Math.abs(v)) / max)}%`;
      const value = document.createElement('span');
      value.textContent = v.toFixed(4);
      bars.append(label, bar, value);
    }
    div.append(bars);
  } else {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = values.slice(0, 8).map((v) => v.toFixed(4)).join(', ') + (values.length > 8 ? ', …' : '');
    div.append(p);
  }
  return div;
}

async function run() {
  $('run').disabled = true;
  try {
    const next = random(42);
    const feeds = Object.fromEntries(session.inputMetadata.map((m) => [m.name, makeInput(m, next)]));
    const started = performance.now();
    const outputs = await session.run(feeds);
    const ms = performance.now() - started;
    setStatus('run-status', `Ran in ${ms.toFixed(1)} ms.`);
    $('outputs').replaceChildren(...Object.entries(outputs).map(([name, t]) => renderOutput(name, t)));
  } catch (error) {
    setStatus('run-status', `${error.code ?? 'Error'}: ${error.message}`, true);
  } finally {
    $('run').disabled = false;
  }
}

$('use-default').addEventListener('click', () => load(DEFAULT_MODEL, 'magika standard_v3_3 (default)'));
$('file').addEventListener('change', (e) => {
  const file = e.target.files?.[0];
  if (file) load(file, file.name);
});
$('run').addEventListener('click', run);
load(DEFAULT_MODEL, 'magika standard_v3_3 (default)');
