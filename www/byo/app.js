// "Bring your own model": load magika or any .onnx file the user picks, list its inputs and
// outputs, fill the inputs (seeded random values, or an uploaded image for image-shaped inputs),
// run it in a worker and show the outputs, the timings and any error.
import { Tensor } from '/dist/onnxlet.mjs';

import { errorText, formatBytes, h, loadModel, privacyBadge } from '/common/demo.js';
import {
  IMAGENET,
  feedDims,
  formatValue,
  imageInput,
  imageLayout,
  isClassifierLike,
  randomDescription,
  randomInputs,
  topK,
} from './inputs.js';

const DEFAULT_MODEL = '/models/magika/model.onnx';
const DEFAULT_LABEL = 'magika standard_v3_3 (default)';
const $ = (id) => document.getElementById(id);

const badge = privacyBadge($('badge'));
let session;
let createMs;
/** The uploaded image, decoded, if any. */
let image;
let loading;

/** The first input that takes an image, with its layout. */
function imageTarget() {
  for (const meta of session?.inputMetadata ?? []) {
    const layout = imageLayout(meta);
    if (layout) return { meta, layout };
  }
  return undefined;
}

function shapeText(shape) {
  return `[${shape.join(', ')}]`;
}

function describeFill(meta, target) {
  if (target?.meta === meta && image) {
    const { layout, width, height } = target.layout;
    return `image ${image.name}, ${width}×${height}, ImageNet-normalised, ${layout}`;
  }
  if (meta.name === 'sr') return '16000 (a sample rate)';
  const dims = feedDims(meta);
  const fed = dims.every((d, i) => d === meta.shape[i]) ? '' : `, fed as ${shapeText(dims)}`;
  return `seeded random, ${randomDescription(meta.type)}${fed}`;
}

function renderIo() {
  const target = imageTarget();
  const row = (kind, meta, fill) =>
    h('tr', {}, h('td', {}, kind), h('td', { className: 'mono' }, meta.name), h('td', { className: 'mono' }, meta.type),
      h('td', { className: 'mono' }, shapeText(meta.shape)), h('td', { className: 'small' }, fill));
  $('io').tBodies[0].replaceChildren(
    ...session.inputMetadata.map((m) => row('input', m, describeFill(m, target))),
    ...session.outputMetadata.map((m) => row('output', m, '')),
  );
  $('image-card').hidden = !target;
  if (target) {
    const { layout, width, height, batch } = target.layout;
    $('image-target').textContent = `${target.meta.name} ${shapeText(target.meta.shape)}`;
    $('preprocessing').textContent =
      `The image is resized (stretched, aspect ratio not kept) to ${width}×${height} on a canvas; ` +
      `RGB values are scaled to [0, 1], then normalised per channel with the ImageNet mean ` +
      `(${IMAGENET.mean.join(', ')}) and standard deviation (${IMAGENET.std.join(', ')}), laid out ${layout}` +
      `${batch > 1 ? `, and repeated over the batch of ${batch}` : ''}. Without an image, the input is random.`;
  }
}

async function load(source, label) {
  const controller = new AbortController();
  loading?.abort();
  loading = controller;
  $('run').disabled = true;
  $('outputs').replaceChildren();
  $('run-status').textContent = '';
  $('model-info').textContent = '';
  badge.markLoading();
  const previous = session;
  session = undefined;
  await previous?.release();
  try {
    const loaded = await loadModel(source, { progress: $('progress'), label, signal: controller.signal });
    if (loading !== controller) {
      await loaded.release();
      return;
    }
    session = loaded;
    createMs = Number($('progress').dataset.ms);
    const size = source instanceof Blob ? source.size : undefined;
    $('model-info').textContent = `${label}${size ? `, ${formatBytes(size)}` : ''}: ` +
      `${session.inputNames.length} input(s), ${session.outputNames.length} output(s), created in ${createMs} ms.`;
    renderIo();
    $('run').disabled = false;
    badge.markReady();
  } catch (error) {
    if (loading === controller) $('io').tBodies[0].replaceChildren();
    $('image-card').hidden = true;
    if (loading === controller) badge.markReady('the load failed');
    console.warn('model not loaded:', error);
  }
}

/** Draws the image resized to width×height and returns its RGBA pixels. */
function pixels(bitmap, width, height) {
  const canvas = $('preview');
  canvas.hidden = false;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, width, height);
  return context.getImageData(0, 0, width, height).data;
}

function feeds(seed) {
  const values = randomInputs(session.inputMetadata, seed);
  const target = imageTarget();
  if (target && image) {
    const { width, height } = target.layout;
    values[target.meta.name] = imageInput(target.meta, target.layout, pixels(image.bitmap, width, height));
  }
  return Object.fromEntries(Object.entries(values).map(([name, v]) => [name, new Tensor(v.type, v.data, v.dims)]));
}

function renderOutput(name, tensor) {
  const values = tensor.data;
  const first = Array.from(values.slice(0, 10), formatValue).join(', ') + (values.length > 10 ? ', …' : '');
  const block = h('div', { className: 'output', dataset: { name } },
    h('h3', {}, `${name}: ${tensor.type} ${shapeText(tensor.dims)}`),
    h('p', { className: 'mono small first-values' }, `first values: ${first}`));
  if (isClassifierLike(tensor)) {
    const top = topK(values, 5);
    const scale = Math.max(...top.map(([, v]) => Math.abs(v)), 1e-12);
    block.append(
      h('p', { className: 'muted small' }, 'top 5 (index: value)'),
      h('div', { className: 'bars top5' }, top.flatMap(([i, v]) => [
        h('span', { className: 'mono index' }, `#${i}`),
        h('div', { className: 'bar', style: { width: `${Math.max(1, (100 * Math.abs(v)) / scale)}%` } }),
        h('span', { className: 'value' }, formatValue(v)),
      ])),
    );
  }
  return block;
}

async function run() {
  $('run').disabled = true;
  $('run-status').className = 'muted';
  const seed = Number($('seed').value) | 0;
  try {
    const inputs = feeds(seed);
    const started = performance.now();
    const outputs = await session.run(inputs);
    const runMs = performance.now() - started;
    $('run-status').textContent = `create ${createMs} ms · run ${runMs.toFixed(1)} ms · seed ${seed}`;
    $('run-status').dataset.seed = String(seed);
    $('outputs').replaceChildren(...Object.entries(outputs).map(([name, t]) => renderOutput(name, t)));
  } catch (error) {
    $('run-status').className = 'error';
    $('run-status').textContent = errorText(error);
    $('outputs').replaceChildren();
  } finally {
    $('run').disabled = !session;
  }
}

$('use-default').addEventListener('click', () => load(DEFAULT_MODEL, DEFAULT_LABEL));
$('file').addEventListener('change', (e) => {
  const file = e.target.files?.[0];
  if (file) load(file, file.name);
});
$('image').addEventListener('change', async (e) => {
  const file = e.target.files?.[0];
  if (!file) return;
  try {
    image = { name: file.name, bitmap: await createImageBitmap(file) };
    const target = imageTarget();
    if (target) pixels(image.bitmap, target.layout.width, target.layout.height);
    $('image-status').className = 'muted';
    $('image-status').textContent = `${file.name}: ${image.bitmap.width}×${image.bitmap.height}`;
  } catch (error) {
    image = undefined;
    $('image-status').className = 'error';
    $('image-status').textContent = `Cannot read ${file.name} as an image: ${error.message}`;
  }
  if (session) renderIo();
});
$('clear-image').addEventListener('click', () => {
  image = undefined;
  $('image').value = '';
  $('image-status').textContent = 'No image: the input is filled with random values.';
  $('preview').width = 0;
  $('preview').hidden = true;
  if (session) renderIo();
});
$('run').addEventListener('click', run);
load(DEFAULT_MODEL, DEFAULT_LABEL);
