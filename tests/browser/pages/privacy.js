// Classifies typed text with magika under a strict Content Security Policy (in worker mode with
// ?worker); the test watches every request the page makes.
import { InferenceSession, Tensor } from '/dist/onnxlet.mjs';

const violations = [];
document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
window.cspViolations = violations;

const status = document.getElementById('status');
const worker = new URLSearchParams(location.search).has('worker');
const session = await InferenceSession.create('/models/magika/model.onnx', { worker });
status.textContent = 'ready';
document.getElementById('classify').disabled = false;

document.getElementById('classify').addEventListener('click', async () => {
  // magika's features, simplified: the text's first 2048 bytes, padded with its padding token 256.
  const bytes = new TextEncoder().encode(document.getElementById('text').value).subarray(0, 2048);
  const features = new Int32Array(2048).fill(256);
  features.set(bytes);
  const { target_label: scores } = await session.run({ bytes: new Tensor('int32', features, [1, 2048]) });
  let best = 0;
  for (let i = 1; i < scores.size; i++) if (scores.data[i] > scores.data[best]) best = i;
  document.getElementById('result').textContent = `label #${best} (${scores.data[best].toFixed(3)})`;
});
