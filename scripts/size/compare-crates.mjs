// Side-by-side crate breakdown (kB = 1000 bytes, of the wasm-opt output, names kept) of several pipeline
// directories, as a Markdown table. `node scripts/size/compare-crates.mjs DIR... [--top 25]`
import { join } from 'node:path';

import { crateOf, items } from './by-crate.mjs';

const args = process.argv.slice(2);
let top = 25;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else dirs.push(args[i]);
}
const tables = dirs.map((d) => {
  const by = new Map();
  let total = 0;
  for (const i of items(join(d, 'opt.names.wasm'))) {
    if (i.name === '"function names" subsection' || /custom section/.test(i.name)) continue;
    const c = crateOf(i.name);
    by.set(c, (by.get(c) ?? 0) + i.size);
    total += i.size;
  }
  return { by, total };
});
const biggest = new Map();
for (const t of tables) for (const [c, n] of t.by) biggest.set(c, Math.max(biggest.get(c) ?? 0, n));
const crates = [...biggest.entries()].sort((a, b) => b[1] - a[1]).map(([c]) => c);
const kb = (n) => (n ? (n / 1000).toFixed(0) : '–');
console.log(`| crate | ${dirs.map((d) => d.split('/').pop()).join(' | ')} |`);
console.log(`|---|${dirs.map(() => '---:').join('|')}|`);
for (const c of crates.slice(0, top)) console.log(`| ${c} | ${tables.map((t) => kb(t.by.get(c))).join(' | ')} |`);
const rest = (t) => [...t.by.entries()].filter(([c]) => !crates.slice(0, top).includes(c)).reduce((s, [, n]) => s + n, 0);
console.log(`| (other) | ${tables.map((t) => kb(rest(t))).join(' | ')} |`);
console.log(`| **total (no names)** | ${tables.map((t) => kb(t.total)).join(' | ')} |`);
