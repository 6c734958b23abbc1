// A greedy decode loop over optimum's decoder exports (tests/models/decoders/, made by
// scripts/export-decoders.py), shared by tests/node/decoders.test.mjs and the bench's decode row.
// It takes the runtime's module (onnxlet or onnxruntime-web: the same API), so that both run the
// same loop: prefill the prompt, then one token at a time, feeding each step's `present.*` back as
// the next step's `past_key_values.*`, with the attention_mask, position_ids and use_cache_branch
// the export asks for.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { root } from './models.mjs';

export const decodersDir = join(root, 'tests', 'models', 'decoders');

/** scripts/export-decoders.py's reference.json: the prompt, and onnxruntime's tokens and logits. */
export const decodersReference = () => JSON.parse(readFileSync(join(decodersDir, 'reference.json'), 'utf8'));

/** The three layouts: the file of the first step (the prompt) and of every later one. */
export const LAYOUTS = {
  single: ['model.onnx', 'model.onnx'],
  split: ['decoder_model.onnx', 'decoder_with_past_model.onnx'],
  merged: ['decoder_model_merged.onnx', 'decoder_model_merged.onnx'],
};

/**
 * The sessions of one model in one layout: `[first, later]` (one session twice where one file),
 * created from the file's bytes.
 */
export async function openLayout(runtime, model, layout, options) {
  const [firstFile, laterFile] = LAYOUTS[layout];
  const open = (file) => runtime.InferenceSession.create(readFileSync(join(decodersDir, model, file)), options);
  const first = await open(firstFile);
  const later = laterFile === firstFile ? first : await open(laterFile);
  return [first, later];
}

export async function releaseLayout([first, later]) {
  await first.release();
  if (later !== first) await later.release();
}

const int64 = (runtime, values, dims) => new runtime.Tensor('int64', BigInt64Array.from(values, BigInt), dims);

/** The index of the largest of the last row of `logits` ([1, n, vocab]). */
function lastRow(logits) {
  const vocab = logits.dims[2];
  return logits.data.subarray(logits.data.length - vocab);
}

function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * Greedy decode of `prompt` for `newTokens` tokens. Returns the new tokens, the last row of logits
 * of the first two steps (as Float32Arrays), and each step's time in ms (`performance.now()` around
 * `run`, the first being the prompt's).
 */
export async function greedyDecode(runtime, [first, later], { prompt, newTokens, kvHeads, headDim }) {
  let past = null;
  let pastLength = 0;
  let feedIds = prompt;
  const tokens = [];
  const logits = [];
  const times = [];
  for (let step = 0; step < newTokens; step++) {
    const session = step === 0 ? first : later;
    const n = feedIds.length;
    const feeds = { input_ids: int64(runtime, feedIds, [1, n]) };
    for (const name of session.inputNames) {
      if (name === 'attention_mask') feeds[name] = int64(runtime, new Array(pastLength + n).fill(1), [1, pastLength + n]);
      else if (name === 'position_ids') feeds[name] = int64(runtime, Array.from({ length: n }, (_, i) => pastLength + i), [1, n]);
      else if (name === 'use_cache_branch') feeds[name] = new runtime.Tensor('bool', Uint8Array.of(past ? 1 : 0), [1]);
      else if (name.startsWith('past_key_values.')) {
        feeds[name] = past ? past[name.replace('past_key_values.', 'present.')] : new runtime.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
      }
    }
    const start = performance.now();
    const outputs = await session.run(feeds);
    times.push(performance.now() - start);
    const row = lastRow(outputs.logits);
    if (step < 2) logits.push(Float32Array.from(row));
    const token = argmax(row);
    tokens.push(token);
    feedIds = [token];
    pastLength += n;
    past = {};
    for (const [name, value] of Object.entries(outputs)) if (name.startsWith('present.')) past[name] = value;
  }
  return { tokens, logits, times };
}
