// Which models the benchmark runs and what it feeds them: the first seeded case of each model in
// .cache/models/index.json (raw little-endian inputs, with reference outputs).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { loadIndex, modelsDir } from '../tests/support/models.mjs';

/** The light CNNs from the ONNX backend test data. */
export const LIGHT_CNNS = [
  'bvlc_alexnet', 'densenet121', 'inception_v1', 'inception_v2', 'resnet50', 'shufflenet', 'squeezenet', 'vgg19',
  'zfnet512',
];

/** Every benchmarked model, in report order. */
export const ALL_MODELS = [...LIGHT_CNNS, 'magika', 'silero_vad', 'ppocr_det', 'ppocr_cls', 'minilm'];

/** Three small models of different kinds, for `--quick`. */
export const QUICK_MODELS = ['squeezenet', 'silero_vad', 'ppocr_cls'];

/** Stateful models: each run's output (key) becomes the next run's input (value). */
const STATE = { silero_vad: { stateN: 'state' } };

/** minilm is benchmarked at this sequence length (its first case: real token ids, full mask). */
const MINILM_SEQUENCE = 128;

/**
 * The benchmark's view of each named model: its file, its first case's inputs and reference
 * outputs (paths relative to the model cache) and its state wiring.
 */
export function benchModels(names) {
  const index = loadIndex();
  return names.map((name) => {
    const entry = index.models.find((m) => m.name === name);
    if (!entry) {
      throw new Error(`unknown model ${name}: the model cache has ${index.models.map((m) => m.name).join(', ')}`);
    }
    const [first] = entry.cases;
    if (name === 'minilm' && first.inputs.some((i) => i.dims.at(-1) !== MINILM_SEQUENCE)) {
      throw new Error(`minilm's first case is not at sequence length ${MINILM_SEQUENCE}: regenerate the model cache`);
    }
    return {
      name,
      file: entry.file,
      bytes: entry.bytes,
      inputs: first.inputs.map(({ name, type, dims, file }) => ({ name, type, dims, file })),
      outputs: first.outputs.map(({ name, type, dims, file }) => ({ name, type, dims, file })),
      state: STATE[name],
    };
  });
}

/** The bytes of a file in the model cache. */
export const readCacheFile = async (file) => new Uint8Array(await readFile(join(modelsDir, file)));
