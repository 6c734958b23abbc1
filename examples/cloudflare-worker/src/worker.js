// A Cloudflare Worker that labels the bytes POSTed to it with Google's magika model, the way the
// magika Python package does: `curl --data-binary @FILE https://…/` answers
// `{"label":"python","dlLabel":"python","score":0.9998}`.
import { InferenceSession, Tensor, env } from 'onnxlet';
// wrangler's CompiledWasm rule (the default for `.wasm`) makes this a compiled WebAssembly.Module:
// Workers compile no WebAssembly from bytes and have no `import.meta.url` to find it by.
import lite from 'onnxlet/onnxlet_lite_bg.wasm';

env.wasm.wasmBinary = { lite };

/** magika's model and its configuration, loaded once per isolate and shared by its requests. */
let magika;

/** Fetches the model directory (`model.onnx`, `config.min.json`, `content_types_kb.min.json`). */
async function load(base) {
  const get = async (file) => {
    const response = await fetch(new URL(file, base));
    if (!response.ok) throw new Error(`${file}: HTTP ${response.status}`);
    return response;
  };
  const [config, contentTypes, model] = await Promise.all([
    get('config.min.json').then((r) => r.json()),
    get('content_types_kb.min.json').then((r) => r.json()),
    get('model.onnx').then((r) => r.arrayBuffer()),
  ]);
  return { config, contentTypes, session: await InferenceSession.create(new Uint8Array(model)) };
}

const isWhitespace = (b) => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/** The model's input: the first and last bytes, whitespace stripped, padded to a fixed size. */
function features(bytes, config) {
  const { beg_size: begSize, end_size: endSize, block_size: blockSize, padding_token: pad } = config;
  const n = Math.min(blockSize, bytes.length);
  let start = 0;
  while (start < n && isWhitespace(bytes[start])) start++;
  let end = bytes.length;
  while (end > bytes.length - n && isWhitespace(bytes[end - 1])) end--;
  const out = new Int32Array(begSize + endSize).fill(pad);
  out.set(bytes.subarray(start, Math.min(n, start + begSize)), 0);
  const last = bytes.subarray(Math.max(bytes.length - n, end - endSize), end);
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

/** What magika calls `bytes`: `{ label, dlLabel, score }` (no model label for tiny inputs). */
async function identify(bytes, { config, contentTypes, session }) {
  if (bytes.length === 0) return { label: 'empty', dlLabel: null, score: null };
  const input = features(bytes, config);
  const min = config.min_file_size_for_dl;
  if (bytes.length < min || input[min - 1] === config.padding_token) {
    return { label: isText(bytes) ? 'txt' : 'unknown', dlLabel: null, score: null };
  }
  const { target_label: out } = await session.run({ bytes: new Tensor('int32', input, [1, input.length]) });
  const scores = Array.from(out.data);
  const best = scores.indexOf(Math.max(...scores));
  const dlLabel = config.target_labels_space[best];
  const score = scores[best];
  let label = config.overwrite_map[dlLabel] ?? dlLabel;
  if (score < (config.thresholds[dlLabel] ?? config.medium_confidence_threshold)) {
    label = contentTypes[label].is_text ? 'txt' : 'unknown';
  }
  return { label, dlLabel, score };
}

export default {
  async fetch(request, bindings) {
    if (request.method !== 'POST') return new Response('POST a file to label it\n', { status: 405 });
    magika ??= load(bindings.MAGIKA_URL).catch((error) => {
      magika = undefined;
      throw error;
    });
    try {
      const bytes = new Uint8Array(await request.arrayBuffer());
      return Response.json(await identify(bytes, await magika));
    } catch (error) {
      return Response.json({ error: `${error.code ?? error.name}: ${error.message}` }, { status: 500 });
    }
  },
};
