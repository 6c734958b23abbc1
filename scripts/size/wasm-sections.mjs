// Lists the sections of a wasm file (id, name, bytes), and with `--strip-custom OUT` writes a copy
// without custom sections (names, producers, debug info, target_features).
// `node scripts/size/wasm-sections.mjs file.wasm [--strip-custom out.wasm] [--json]`
import { readFileSync, writeFileSync } from 'node:fs';

const NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start',
  'element', 'code', 'data', 'datacount', 'tag'];

/** An unsigned LEB128 at `at`: [value, the offset after it]. */
export function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80)) return [value, at];
  }
}

/** The sections of a wasm module: `{ id, name, start, end, size }` (size includes the header). */
export function sections(bytes) {
  const out = [];
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++];
    const [len, body] = leb(bytes, at);
    let name = NAMES[id] ?? `unknown${id}`;
    if (id === 0) {
      const [nlen, nat] = leb(bytes, body);
      name = `custom:${Buffer.from(bytes.subarray(nat, nat + nlen)).toString('utf8')}`;
    }
    at = body + len;
    out.push({ id, name, start, end: at, size: at - start });
  }
  return out;
}

/** The module without its custom sections. */
export function stripCustom(bytes) {
  const keep = sections(bytes).filter((s) => s.id !== 0);
  return Buffer.concat([bytes.subarray(0, 8), ...keep.map((s) => bytes.subarray(s.start, s.end))]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, ...rest] = process.argv.slice(2);
  const bytes = readFileSync(file);
  const list = sections(bytes).map(({ name, size }) => ({ name, size }));
  if (rest.includes('--json')) console.log(JSON.stringify(list));
  else console.table(list);
  const ix = rest.indexOf('--strip-custom');
  if (ix >= 0) writeFileSync(rest[ix + 1], stripCustom(bytes));
}
