// Like by-crate.mjs, one level down: sizes per `crate::module::submodule` for the crates given.
// `node scripts/size/by-module.mjs file.wasm tract_core [tract_onnx ...] [--depth 3] [--top 30]`
import { crateOf, items } from './by-crate.mjs';

const args = process.argv.slice(2);
const file = args.shift();
let depth = 3;
let top = 30;
const crates = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--depth') depth = Number(args[++i]);
  else if (args[i] === '--top') top = Number(args[++i]);
  else crates.push(args[i]);
}
const by = new Map();
for (const item of items(file)) {
  const crate = crateOf(item.name);
  if (!crates.includes(crate)) continue;
  const path = item.name.match(new RegExp(`(?:^|[<\\s&(\\[,*])(${crate}(?:::[a-z_][a-z0-9_]*)*)`))?.[1] ?? crate;
  const key = path.split('::').slice(0, depth).join('::');
  const e = by.get(key) ?? { module: key, items: 0, bytes: 0 };
  e.items += 1;
  e.bytes += item.size;
  by.set(key, e);
}
console.table([...by.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top));
