// Locates the model cache written by scripts/fetch-models.py.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const modelsDir = process.env.ONNXLET_MODELS_DIR ?? join(root, '.cache', 'models');

export function loadIndex() {
  try {
    return JSON.parse(readFileSync(join(modelsDir, 'index.json'), 'utf8'));
  } catch (error) {
    throw new Error(`${error.message}: run \`python3 scripts/fetch-models.py\` (npm test does it)`);
  }
}

export const readModelFile = async (file) => new Uint8Array(await readFile(join(modelsDir, file)));

export const testModel = (name) => join(root, 'tests', 'models', name);
