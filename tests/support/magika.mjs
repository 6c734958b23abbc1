// Reference results for the magika examples: magika's feature extraction and labelling as its
// Python package (1.0.3) implements them, with onnxruntime-web running the model.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as ort from 'onnxruntime-web';

import { modelsDir } from './models.mjs';

export const magikaDir = join(modelsDir, 'magika');
const readJson = (file) => JSON.parse(readFileSync(join(magikaDir, file), 'utf8'));
export const config = readJson('config.min.json');
const contentTypes = readJson('content_types_kb.min.json');

// Python's bytes.strip() removes ASCII whitespace: space, \t, \n, \v, \f, \r.
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/** magika's `_extract_features_from_seekable`: beg and end ints, padded. */
export function features(bytes) {
  const { beg_size: begSize, end_size: endSize, block_size: blockSize, padding_token: pad } = config;
  const n = Math.min(blockSize, bytes.length);
  let beg = Array.from(bytes.subarray(0, n));
  while (beg.length && WHITESPACE.has(beg[0])) beg.shift();
  beg = beg.slice(0, begSize);
  let end = Array.from(bytes.subarray(bytes.length - n));
  while (end.length && WHITESPACE.has(end.at(-1))) end.pop();
  end = end.slice(Math.max(0, end.length - endSize));
  return [...beg, ...Array(begSize - beg.length).fill(pad), ...Array(endSize - end.length).fill(pad), ...end];
}

let session;

/** The model's scores for each input, by onnxruntime-web. */
async function scores(inputs) {
  ort.env.wasm.numThreads = 1;
  session ??= await ort.InferenceSession.create(readFileSync(join(magikaDir, 'model.onnx')));
  const width = inputs[0].length;
  const feed = new ort.Tensor('int32', Int32Array.from(inputs.flat()), [inputs.length, width]);
  const { target_label: out } = await session.run({ bytes: feed });
  const n = config.target_labels_space.length;
  return inputs.map((_, i) => Array.from(out.data.subarray(i * n, (i + 1) * n)));
}

const isUtf8 = (bytes) => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
};

/**
 * For each content, what magika (high-confidence mode) says: `{ label, dlLabel, score, top }`,
 * with `top` the model's labels and scores sorted by score (`dlLabel` and `score` are null for
 * contents labelled without the model).
 */
export async function reference(contents) {
  const inputs = contents.map((bytes) => features(bytes));
  const min = config.min_file_size_for_dl;
  const small = contents.map((bytes, i) => bytes.length < min || inputs[i][min - 1] === config.padding_token);
  const modelled = contents.flatMap((_, i) => (small[i] ? [] : [i]));
  const all = modelled.length ? await scores(modelled.map((i) => inputs[i])) : [];
  return contents.map((bytes, i) => {
    if (bytes.length === 0) return { label: 'empty', dlLabel: null, score: null, top: [] };
    if (small[i]) return { label: isUtf8(bytes) ? 'txt' : 'unknown', dlLabel: null, score: null, top: [] };
    const s = all[modelled.indexOf(i)];
    const top = s.map((score, k) => ({ label: config.target_labels_space[k], score })).sort((a, b) => b.score - a.score);
    const { label: dlLabel, score } = top[0];
    let label = config.overwrite_map[dlLabel] ?? dlLabel;
    if (score < (config.thresholds[dlLabel] ?? config.medium_confidence_threshold)) {
      label = contentTypes[label].is_text ? 'txt' : 'unknown';
    }
    return { label, dlLabel, score, top };
  });
}

export const description = (label) => contentTypes[label]?.description ?? label;
