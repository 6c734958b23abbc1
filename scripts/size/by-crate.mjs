// Aggregates `twiggy top` of a wasm file with a name section by crate: a function counts for the
// first non-std crate in its demangled name (so `drop_in_place<tract_core::X>` and
// `<tract_core::X as core::fmt::Debug>::fmt` count for tract_core), std/core/alloc otherwise.
// `node scripts/size/by-crate.mjs file.wasm [--grep REGEX ...] [--json]`
import { execFileSync } from 'node:child_process';

const STD = new Set(['core', 'alloc', 'std', 'compiler_builtins', 'dlmalloc', 'hashbrown', 'std_detect', 'panic_abort']);

/** Every item of the module: `{ name, size }`. */
export function items(file) {
  const out = execFileSync('twiggy', ['top', '-n', '1000000', '--format', 'json', file], { maxBuffer: 1 << 30 });
  // v0 mangling (nightly) adds a crate disambiguator: `tract_core[a0734a63d3c31673]::`.
  return JSON.parse(out).map((i) => ({ name: i.name.replace(/\[[0-9a-f]{12,16}\]/g, ''), size: i.shallow_size }));
}

/** The crate an item is charged to. */
export function crateOf(name) {
  if (/^data segment|^"function names"|^elem\[|^type\[|^import |^export |^table\[|^memory\[|^global\[|custom section|^wasm magic|^code section|^data\[/.test(name)) {
    return `(wasm: ${name.replace(/\[\d+\]/, '[]').replace(/ ".*"/, '').slice(0, 30)})`;
  }
  const crates = [...name.matchAll(/(?:^|[<\s&(\[,*])([a-z_][a-z0-9_]*)::/g)].map((m) => m[1]);
  const own = crates.find((c) => !STD.has(c) && !/^h[0-9a-f]{16}$/.test(c));
  if (own) return own;
  if (crates.length) return crates[0];
  return '(unnamed / other)';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, ...rest] = process.argv.slice(2);
  const all = items(file);
  const total = all.reduce((s, i) => s + i.size, 0);
  const greps = [];
  for (let i = 0; i < rest.length; i++) if (rest[i] === '--grep') greps.push(rest[++i]);
  if (greps.length) {
    const rows = greps.map((g) => {
      const re = new RegExp(g);
      const hit = all.filter((i) => re.test(i.name));
      return { pattern: g, items: hit.length, bytes: hit.reduce((s, i) => s + i.size, 0) };
    });
    console.table(rows);
  } else {
    const by = new Map();
    for (const i of all) {
      const c = crateOf(i.name);
      const e = by.get(c) ?? { crate: c, items: 0, bytes: 0 };
      e.items += 1;
      e.bytes += i.size;
      by.set(c, e);
    }
    const rows = [...by.values()].sort((a, b) => b.bytes - a.bytes)
      .map((r) => ({ ...r, pct: ((100 * r.bytes) / total).toFixed(1) }));
    if (rest.includes('--json')) console.log(JSON.stringify({ total, rows }));
    else { console.table(rows.slice(0, 40)); console.log('total', total); }
  }
}
