// The three likeliest content types of a file, by Google's magika model, in Bun:
// `bun identify.ts FILE [MODEL_DIR]`
import { InferenceSession, Tensor } from 'onnxlet';

const [file, modelDir = '../../.cache/models/magika'] = Bun.argv.slice(2);
if (!file) {
  console.error('usage: bun identify.ts FILE [MODEL_DIR]');
  process.exit(2);
}
const config = await Bun.file(`${modelDir}/config.min.json`).json();

const session = await InferenceSession.create(`${modelDir}/model.onnx`, {
  onProgress: ({ status, progress }) => console.error(status, `${Math.round((progress ?? 0) * 100)}%`),
});

/** The first and last bytes, whitespace stripped, padded to the model's input size. */
function features(bytes: Uint8Array): Int32Array {
  const { beg_size: begSize, end_size: endSize, block_size: blockSize, padding_token: pad } = config;
  const n = Math.min(blockSize, bytes.length);
  const isSpace = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);
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

const input = features(await Bun.file(file).bytes());
const { target_label: scores } = await session.run({ bytes: new Tensor('int32', input, [1, input.length]) });
const labels: string[] = config.target_labels_space;
const top = [...scores.data as Float32Array].map((score, i) => ({ label: labels[i], score }));
for (const { label, score } of top.sort((a, b) => b.score - a.score).slice(0, 3)) {
  console.log(`${label} ${score.toFixed(4)}`);
}
