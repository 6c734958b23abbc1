// Markdown table of pipeline results: `node scripts/size/table.mjs DIR...` (each DIR has sizes.json).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const kb = (n) => (n / 1000).toFixed(0);
console.log('| build | wasm-opt | cargo raw kB | shipped raw kB | gzip kB | brotli kB |');
console.log('|---|---|---:|---:|---:|---:|');
for (const dir of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(join(dir, 'sizes.json'), 'utf8'));
  console.log(`| ${dir.split('/').pop()} | ${r.flags} | ${kb(r.cargo.raw)} | ${kb(r.shipped.raw)} | ${kb(r.shipped.gzip)} | ${kb(r.shipped.brotli)} |`);
}
