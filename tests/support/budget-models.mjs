// Models of the memory budget tests (issue 31, class 4): tests/node/memory-budget.test.mjs runs
// them through the wasm modules, tests/lite.rs and tests/native.rs natively, from
// tests/models/budget/ (written by running this file: node tests/support/budget-models.mjs).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { graphModel } from './onnx-proto.mjs';

/**
 * `y = Expand(x, s) + Expand(x, s)`: node 'square' expands the one-element x to the fed shape s
 * (a [16384, 16384] float32 tensor, 2^28 elements, is 1.07 GB), node 'twice' adds it to itself (another one).
 */
const expandTwice = graphModel({
  nodes: [
    { op: 'Expand', name: 'square', inputs: ['x', 's'], outputs: ['big'] },
    { op: 'Add', name: 'twice', inputs: ['big', 'big'], outputs: ['y'] },
  ],
  inputs: [
    ['x', 'float32', [1]],
    ['s', 'int64', [2]],
  ],
  outputs: [['y', 'float32']],
});

/**
 * `y = Transpose(ConstantOfShape([16000, 16000]))`: a model of a few hundred bytes whose constant
 * folding would fill 2 GB at load (1 GB each); the lite engine computes it at run time instead,
 * under the memory budget.
 */
const foldBomb = graphModel({
  nodes: [
    { op: 'ConstantOfShape', name: 'make', inputs: ['s'], outputs: ['big'], attrs: { value: { tensor: ['float32', [1], [1]] } } },
    { op: 'Transpose', name: 'turn', inputs: ['big'], outputs: ['y'] },
  ],
  initializers: [['s', 'int64', [2], [16000, 16000]]],
  outputs: [['y', 'float32']],
});

/**
 * `y = Expand(x, s)`: node 'spread' makes the output itself, which the engine then copies out
 * (held twice: the tract engine weighs the copy against the budget).
 */
const expandOut = graphModel({
  nodes: [{ op: 'Expand', name: 'spread', inputs: ['x', 's'], outputs: ['y'] }],
  inputs: [
    ['x', 'float32', [1]],
    ['s', 'int64', [2]],
  ],
  outputs: [['y', 'float32']],
});

export const budgetModels = { expand_twice: expandTwice, fold_bomb: foldBomb, expand_out: expandOut };

export const budgetDir = fileURLToPath(new URL('../models/budget/', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(budgetDir, { recursive: true });
  for (const [name, bytes] of Object.entries(budgetModels)) writeFileSync(join(budgetDir, `${name}.onnx`), bytes);
}
