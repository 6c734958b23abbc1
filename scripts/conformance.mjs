// `npm run test:conformance`: the ONNX backend node tests alone, natively and through the built
// wasm module, then the operator table (docs/operators.md, src/verified_opsets.rs) regenerated.
import { join } from 'node:path';

import { makeNodeTests, root, run } from './setup.mjs';

makeNodeTests();
run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
run('cargo', ['test', '--test', 'conformance', '--', '--nocapture']);
run(process.execPath, ['--test', 'tests/node/conformance.test.mjs']);
run('python3', ['scripts/operator-table.py']);
