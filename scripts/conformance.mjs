// `npm run test:conformance`: the ONNX backend node tests alone, natively and through the built
// wasm modules (full, then default), then the operator table (docs/operators.md,
// src/verified_opsets.rs) regenerated from the full build's runs.
import { join } from 'node:path';

import { makeNodeTests, root, run } from './setup.mjs';

makeNodeTests();
run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
run('cargo', ['test', '--features', 'full', '--test', 'conformance', '--', '--nocapture']);
run(process.execPath, ['--test', '--test-concurrency=1', 'tests/node/conformance.test.mjs', 'tests/node/conformance-default.test.mjs']);
run('python3', ['scripts/operator-table.py']);
