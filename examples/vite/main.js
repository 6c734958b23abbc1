// `import ... from 'onnxlet'` is all a Vite app needs: `vite build` emits onnxlet's .wasm files as
// assets and rewrites the URLs onnxlet loads them from; `vite` (dev) serves them. No configuration.
import { InferenceSession, Tensor } from 'onnxlet';

const $ = (id) => document.getElementById(id);
// The model lives in public/magika/, served at the app's base URL.
const modelDir = `${import.meta.env.BASE_URL}magika/`;
const config = await (await fetch(`${modelDir}config.min.json`)).json();

/** magika's input: the first and last bytes, whitespace stripped, padded to a fixed size. */
function features(bytes) {
  const { beg_size: begSize, end_size: endSize, block_size: blockSize, padding_token: pad } = config;
  const n = Math.min(blockSize, bytes.length);
  const isSpace = (b) => b === 0x20 || (b >= 0x09 && b <= 0x0d);
  let start = 0;
  while (start < n && isSpace(bytes[start])) start++;
  let end = bytes.length;
  while (end > bytes.length - n && isSpace(bytes[end - 1])) end--;
  const out = new Int32Array(begSize + endSize).fill(pad);
  out.set(bytes.subarray(start, Math.min(n, start + begSize)), 0);
  const last = bytes.subarray(Math.max(bytes.length - n, end - endSize), end);
  out.set(last, out.length - last.length);
  return out;
}

const session = await InferenceSession.create(`${modelDir}model.onnx`, {
  onProgress: ({ status, progress }) => {
    $('progress').value = progress ?? 0;
    $('status').textContent = status === 'download' ? `Downloading the model… ${Math.round((progress ?? 0) * 100)}%` : `${status}…`;
  },
});

async function identify() {
  const started = performance.now();
  const input = features(new TextEncoder().encode($('text').value));
  const { target_label: scores } = await session.run({ bytes: new Tensor('int32', input, [1, input.length]) });
  const top = Array.from(scores.data, (score, i) => ({ label: config.target_labels_space[i], score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, 3);
  $('result').replaceChildren(
    ...top.map(({ label, score }) => {
      const li = document.createElement('li');
      li.textContent = `${label} ${(score * 100).toFixed(2)}%`;
      return li;
    }),
  );
  $('status').textContent = `Identified in ${Math.round(performance.now() - started)} ms`;
}

$('identify').disabled = false;
$('identify').onclick = () => identify().catch((error) => ($('status').textContent = `Error: ${error.message}`));
await identify();
