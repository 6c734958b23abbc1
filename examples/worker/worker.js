// A module worker of the page's own: loads magika with onnxlet's ESM build, then identifies the
// bytes the page posts. Messages out: { progress }, { ready }, { top, ms } or { error }.
import { InferenceSession, Tensor } from './node_modules/onnxlet/dist/onnxlet.mjs';

const config = await (await fetch('magika/config.min.json')).json();

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

const session = await InferenceSession.create('magika/model.onnx', {
  onProgress: ({ status, progress }) => postMessage({ progress: { status, progress } }),
});
postMessage({ ready: true });

onmessage = async ({ data: bytes }) => {
  try {
    const started = performance.now();
    const input = features(bytes);
    const { target_label: scores } = await session.run({ bytes: new Tensor('int32', input, [1, input.length]) });
    const top = Array.from(scores.data, (score, i) => ({ label: config.target_labels_space[i], score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 3);
    postMessage({ top, ms: performance.now() - started });
  } catch (error) {
    postMessage({ error: error.message });
  }
};
