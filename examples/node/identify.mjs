// Identifies the content type of files with Google's magika model, labelling them the way the
// magika Python package does: `node identify.mjs [--model DIR] FILE...`
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { InferenceSession, Tensor } from 'onnxlet';

const { values, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string', default: fileURLToPath(new URL('../../.cache/models/magika', import.meta.url)) } },
});
if (files.length === 0) {
  console.error('usage: node identify.mjs [--model DIR] FILE...');
  process.exit(2);
}

const readJson = async (file) =>
  JSON.parse(
    await readFile(join(values.model, file), 'utf8').catch((error) => {
      console.error(`${error.message}: --model must name a magika directory (python3 scripts/fetch-models.py writes one)`);
      process.exit(1);
    }),
  );
const config = await readJson('config.min.json');
const contentTypes = await readJson('content_types_kb.min.json');

const started = performance.now();
const session = await InferenceSession.create(join(values.model, 'model.onnx'), {
  onProgress: ({ status, loaded, progress }) =>
    console.error(
      status === 'download'
        ? `download ${Math.round(progress * 100)}% (${loaded} bytes)`
        : status === 'compile'
          ? `compile ${Math.round(progress * 100)}%`
          : status,
    ),
});
console.error(`model ready in ${Math.round(performance.now() - started)} ms`);

const isWhitespace = (b) => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/** The model's input: the first and last bytes, whitespace stripped, padded to a fixed size. */
function features(bytes) {
  const { beg_size: begSize, end_size: endSize, block_size: blockSize, padding_token: pad } = config;
  const n = Math.min(blockSize, bytes.length);
  let start = 0;
  while (start < n && isWhitespace(bytes[start])) start++;
  let end = bytes.length;
  while (end > bytes.length - n && isWhitespace(bytes[end - 1])) end--;
  const beg = bytes.subarray(start, Math.min(n, start + begSize));
  const last = bytes.subarray(Math.max(bytes.length - n, end - endSize), end);
  const out = new Int32Array(begSize + endSize).fill(pad);
  out.set(beg, 0);
  out.set(last, begSize + endSize - last.length);
  return out;
}

const isText = (bytes) => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
};

/** The final label: the model's, unless it is not confident enough for that content type. */
function label(dlLabel, score) {
  const overwritten = config.overwrite_map[dlLabel] ?? dlLabel;
  if (score >= (config.thresholds[dlLabel] ?? config.medium_confidence_threshold)) return overwritten;
  return contentTypes[overwritten].is_text ? 'txt' : 'unknown';
}

const contents = await Promise.all(files.map((file) => readFile(file)));
const inputs = contents.map(features);
// Files too small for the model are labelled from their bytes alone, as magika does.
const tooSmall = (bytes, input) =>
  bytes.length < config.min_file_size_for_dl || input[config.min_file_size_for_dl - 1] === config.padding_token;
const toModel = inputs.flatMap((input, i) => (tooSmall(contents[i], input) ? [] : [i]));

const batch = new Int32Array(toModel.length * inputs[0].length);
toModel.forEach((file, row) => batch.set(inputs[file], row * inputs[0].length));
const outputs = toModel.length
  ? await session.run({ bytes: new Tensor('int32', batch, [toModel.length, inputs[0].length]) })
  : {};

const labels = config.target_labels_space;
for (const [i, file] of files.entries()) {
  const row = toModel.indexOf(i);
  if (contents[i].length === 0) {
    console.log(`${file}: empty`);
  } else if (row === -1) {
    console.log(`${file}: ${isText(contents[i]) ? 'txt' : 'unknown'} (too small for the model)`);
  } else {
    const scores = outputs.target_label.data.subarray(row * labels.length, (row + 1) * labels.length);
    const best = scores.indexOf(Math.max(...scores));
    const result = label(labels[best], scores[best]);
    const { description } = contentTypes[result] ?? { description: result };
    console.log(`${file}: ${result} (${description}), model says ${labels[best]} with score ${scores[best].toFixed(4)}`);
  }
}
await session.release();
