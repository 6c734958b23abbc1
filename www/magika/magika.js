// The magika Python package's (1.0.3) labelling logic, ported line by line from magika/magika.py:
// feature extraction (first and last block, ASCII whitespace stripped, padded), the rules for empty
// and small files, the output overwrite map, and the high-confidence prediction mode with
// per-label thresholds. Pure functions with no DOM and no library import.

/** What `bytes.lstrip()` / `bytes.rstrip()` strip in Python: ASCII whitespace. */
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c]);

/**
 * The model's configuration (config.min.json) and the content types' descriptions
 * (content_types_kb.min.json), as magika loads them, with its defaults for missing fields.
 */
export async function loadMagikaConfig(baseUrl, { signal } = {}) {
  const get = async (file) => {
    const response = await fetch(new URL(file, baseUrl), { signal });
    if (!response.ok) throw new Error(`cannot fetch ${file}: HTTP ${response.status}`);
    return response.json();
  };
  const [config, kb] = await Promise.all([get('config.min.json'), get('content_types_kb.min.json')]);
  if (config.mid_size !== 0 || config.use_inputs_at_offsets || config.beg_size >= config.block_size || config.end_size >= config.block_size) {
    throw new Error('this magika model config needs features this page does not extract (mid or offset inputs)');
  }
  const types = {};
  for (const [label, info] of Object.entries(kb)) {
    types[label] = {
      label,
      mimeType: info.mime_type ?? (info.is_text ? 'text/plain' : 'application/octet-stream'),
      group: info.group ?? 'unknown',
      description: info.description ?? label,
      extensions: info.extensions,
      isText: info.is_text,
    };
  }
  return { config, types };
}

/** How many bytes of the start and of the end of a file the features need. */
export function bytesToRead(size, config) {
  return Math.min(config.block_size, size);
}

/**
 * The model's input for one file: `beg_size` bytes from the start after stripping leading
 * whitespace (padded at the end), then `end_size` bytes from the end after stripping trailing
 * whitespace (padded at the start). `head` and `tail` are the first and last
 * `min(block_size, size)` bytes. Returns an Int32Array of beg_size + end_size values.
 */
export function extractFeatures(head, tail, config) {
  const { beg_size: begSize, end_size: endSize, padding_token: pad } = config;
  const features = new Int32Array(begSize + endSize).fill(pad);
  let start = 0;
  while (start < head.length && WHITESPACE.has(head[start])) start++;
  const beg = head.subarray(start, start + begSize);
  features.set(beg, 0);
  let stop = tail.length;
  while (stop > 0 && WHITESPACE.has(tail[stop - 1])) stop--;
  const end = tail.subarray(Math.max(0, stop - endSize), stop);
  features.set(end, begSize + endSize - end.length);
  return features;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** magika's label for content too short for the model: `txt` if it is valid UTF-8, else `unknown`. */
export function labelFromFewBytes(content) {
  try {
    strictUtf8.decode(content);
    return 'txt';
  } catch {
    return 'unknown';
  }
}

/**
 * What magika decides without the model, or the features to run it on. `head` and `tail` are the
 * first and last `bytesToRead(size)` bytes of a file of `size` bytes. Returns
 * `{ result }` (label, score 1, no model output) or `{ features }`.
 */
export function prepare(size, head, tail, config) {
  if (size === 0) return { result: { label: 'empty', dlLabel: 'undefined', score: 1, reason: 'empty file' } };
  if (size < config.min_file_size_for_dl) {
    return { result: { label: labelFromFewBytes(head), dlLabel: 'undefined', score: 1, reason: `under ${config.min_file_size_for_dl} bytes` } };
  }
  const features = extractFeatures(head, tail, config);
  if (features[config.min_file_size_for_dl - 1] === config.padding_token) {
    const reason = `under ${config.min_file_size_for_dl} bytes once whitespace is stripped`;
    return { result: { label: labelFromFewBytes(head), dlLabel: 'undefined', score: 1, reason } };
  }
  return { features };
}

/**
 * magika's output for one row of model scores in high-confidence mode: the best label (the first
 * maximum), mapped by the overwrite map, kept if its score reaches the label's threshold (or the
 * medium-confidence threshold), otherwise `txt` or `unknown` by whether the mapped label is text.
 * Also returns the top `k` model labels with their scores.
 */
export function decide(scores, config, types, k = 5) {
  const labels = config.target_labels_space;
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  const dlLabel = labels[best];
  const score = scores[best];
  let label = config.overwrite_map[dlLabel] ?? dlLabel;
  let reason = label === dlLabel ? '' : `${dlLabel} is reported as ${label}`;
  const threshold = config.thresholds[dlLabel] ?? config.medium_confidence_threshold;
  if (!(score >= threshold)) {
    label = types[label].isText ? 'txt' : 'unknown';
    reason = label === dlLabel ? '' : `low confidence: ${dlLabel} scored below its threshold ${threshold}`;
  }
  const top = Array.from(scores, (s, i) => [labels[i], s])
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([name, s]) => ({ label: name, score: s }));
  return { label, dlLabel, score, reason, threshold, top };
}
