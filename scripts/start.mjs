// `npm start`: sets up, builds what the demos need, fetches the models, serves the demo site on
// http://127.0.0.1:8080 (PORT to change it), then builds the other modules while it serves.
//
// The demos run on the lite module (its relaxed-SIMD twin in Chromium), and the JS bundles need
// the tract module's glue (pkg/), so those are built first (`--module default,lite,lite-relaxed`;
// before the threads modules' first build the threads worker is left out). The relaxed-SIMD, full and multi-threaded modules, which a
// page fetches only for a model the lite engine cannot run (the relaxed one, in Chromium), on
// more than one thread, or when asked, follow in the background: on a fresh clone the site is
// up after less than half of the full build.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { serve } from './serve.mjs';
import { fetchModels, root, run } from './setup.mjs';

const build = join(root, 'scripts', 'build.mjs');
run(process.execPath, [build, '--module', 'default,lite,lite-relaxed']);
fetchModels();

const port = Number(process.env.PORT ?? 8080);
const server = await serve(
  {
    '/': join(root, 'www'),
    '/dist/': join(root, 'dist'),
    '/models/': process.env.ONNXLET_MODELS_DIR ?? join(root, '.cache', 'models'),
  },
  { port },
);
console.log(`\nonnxlet demo: ${server.url}/  (Ctrl+C to stop)`);

const rest = ['relaxed', 'full', 'threads', 'threads-relaxed', 'lite-threads', 'lite-threads-relaxed'];
console.log(`building the other modules (${rest.join(', ')}) while serving…`);
const child = spawn(process.execPath, [build, '--module', rest.join(',')], { cwd: root, stdio: 'inherit' });
let stopping = false;
child.on('exit', (code, signal) => {
  if (code === 0) console.log(`\nevery module is built; onnxlet demo: ${server.url}/`);
  else if (!stopping) console.log(`\nbuilding ${rest.join(', ')} failed (${code ?? signal}); the demos still run on the lite module`);
});
// The background build stops with the server.
for (const name of ['SIGINT', 'SIGTERM']) {
  process.on(name, () => {
    stopping = true;
    if (child.exitCode === null) child.kill(name);
    process.exit(130);
  });
}
