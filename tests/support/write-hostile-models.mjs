// Writes the hostile models of hostile-models.mjs to tests/models/hostile/ (for the native tests,
// tests/native.rs and tests/lite.rs), with the feeds in feeds.json. tests/node/hostile.test.mjs
// checks that the files are up to date. Run: node tests/support/write-hostile-models.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { cases, hostileDir, slug } from './hostile-models.mjs';

mkdirSync(hostileDir, { recursive: true });
for (const c of cases) writeFileSync(join(hostileDir, `${slug(c.name)}.onnx`), c.model);
