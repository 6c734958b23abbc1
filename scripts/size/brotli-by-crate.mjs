// What each crate costs after compression: the code bodies of each crate's functions (names from
// the name section of a wasm-opt -g output) are concatenated and brotli-compressed per crate
// (with `--within CRATE`: per module of that crate, three levels deep).
// Per-crate sums exceed the whole module's brotli size (no cross-crate context), but the shares
// show what dominates the download. `node scripts/size/brotli-by-crate.mjs opt.names.wasm [--top 20]`
import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants } from 'node:zlib';

import { crateOf } from './by-crate.mjs';
import { leb, sections } from './wasm-sections.mjs';

const [file, ...rest] = process.argv.slice(2);
const opt = (flag, fallback) => (rest.includes(flag) ? rest[rest.indexOf(flag) + 1] : fallback);
const top = Number(opt('--top', 20));
const within = opt('--within', null);
const groupOf = (name) => {
  const crate = crateOf(name);
  if (!within) return crate;
  if (crate !== within) return null;
  const path = name.match(new RegExp(`(?:^|[<\\s&(\\[,*])(${crate}(?:::[a-z_][a-z0-9_]*)*)`))?.[1] ?? crate;
  return path.split('::').slice(0, 3).join('::');
};
const bytes = readFileSync(file);
const secs = sections(bytes);
const bodyOf = (s) => leb(bytes, s.start + 1)[1];

let imported = 0;
const imp = secs.find((s) => s.name === 'import');
if (imp) {
  let [n, at] = leb(bytes, bodyOf(imp));
  for (let i = 0; i < n; i++) {
    let len;
    [len, at] = leb(bytes, at); at += len;
    [len, at] = leb(bytes, at); at += len;
    const kind = bytes[at++];
    if (kind === 0) { [, at] = leb(bytes, at); imported++; }
    else if (kind === 1) { at++; const [flags, a] = leb(bytes, at); at = a; [, at] = leb(bytes, at); if (flags & 1) [, at] = leb(bytes, at); }
    else if (kind === 2) { const [flags, a] = leb(bytes, at); at = a; [, at] = leb(bytes, at); if (flags & 1) [, at] = leb(bytes, at); }
    else if (kind === 3) { at += 2; }
    else if (kind === 4) { at++; [, at] = leb(bytes, at); }
  }
}

const names = new Map();
const nameSec = secs.find((s) => s.name === 'custom:name');
{
  let at = bodyOf(nameSec);
  const [nlen, a] = leb(bytes, at);
  at = a + nlen;
  while (at < nameSec.end) {
    const id = bytes[at++];
    const [size, b] = leb(bytes, at);
    if (id === 1) {
      let [count, c] = leb(bytes, b);
      for (let i = 0; i < count; i++) {
        let idx; let len;
        [idx, c] = leb(bytes, c);
        [len, c] = leb(bytes, c);
        names.set(idx, bytes.subarray(c, c + len).toString('utf8').replace(/\[[0-9a-f]{12,16}\]/g, ''));
        c += len;
      }
    }
    at = b + size;
  }
}

const byCrate = new Map();
const code = secs.find((s) => s.name === 'code');
let [count, at] = leb(bytes, bodyOf(code));
for (let i = 0; i < count; i++) {
  const [size, b] = leb(bytes, at);
  const crate = groupOf(names.get(imported + i) ?? '?');
  if (crate === null) { at = b + size; continue; }
  const list = byCrate.get(crate) ?? [];
  list.push(bytes.subarray(b, b + size));
  byCrate.set(crate, list);
  at = b + size;
}
const br = (buf) => brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24 } }).length;
const data = secs.find((s) => s.name === 'data');
const rows = [...byCrate].map(([crate, parts]) => {
  const all = Buffer.concat(parts);
  return { crate, functions: parts.length, raw: all.length, brotli: br(all) };
}).concat(within ? [] : [{ crate: '(data section)', functions: 0, raw: data.size, brotli: br(bytes.subarray(data.start, data.end)) }])
  .sort((a, b) => b.brotli - a.brotli);
const total = rows.reduce((s, r) => s + r.brotli, 0);
console.log('| crate | functions | raw kB | brotli kB (alone) | share of brotli |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows.slice(0, top)) console.log(`| ${r.crate} | ${r.functions} | ${(r.raw / 1000).toFixed(0)} | ${(r.brotli / 1000).toFixed(0)} | ${((100 * r.brotli) / total).toFixed(1)}% |`);
const rest2 = rows.slice(top);
console.log(`| (other) | ${rest2.reduce((s, r) => s + r.functions, 0)} | ${(rest2.reduce((s, r) => s + r.raw, 0) / 1000).toFixed(0)} | ${(rest2.reduce((s, r) => s + r.brotli, 0) / 1000).toFixed(0)} | ${((100 * rest2.reduce((s, r) => s + r.brotli, 0)) / total).toFixed(1)}% |`);
console.log(`| sum of per-crate brotli | | | ${(total / 1000).toFixed(0)} | |`);
