// The onnxlet build the benchmark measures: a snapshot of dist/ taken when the run starts, so
// that a rebuild during a long run cannot mix two builds in one set of results.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { root } from '../tests/support/models.mjs';

/** Where the snapshot lives (git-ignored). */
export const benchDist = join(root, '.cache', 'bench', 'dist');

/** Copies the built package's JS and wasm from dist/ to {@link benchDist}. */
export function snapshotDist() {
  rmSync(benchDist, { recursive: true, force: true });
  mkdirSync(benchDist, { recursive: true });
  const source = join(root, 'dist');
  for (const name of readdirSync(source).filter((n) => /\.(mjs|js|wasm)$/.test(n))) {
    copyFileSync(join(source, name), join(benchDist, name));
  }
}
