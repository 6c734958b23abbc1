// `npm start`: sets up, builds if needed, fetches the default model, and serves the demo page
// on http://127.0.0.1:8080 (PORT to change it).
import { join } from 'node:path';

import { serve } from './serve.mjs';
import { fetchModels, root, run } from './setup.mjs';

run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
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
