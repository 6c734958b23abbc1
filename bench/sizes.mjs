// The bytes each runtime makes a page download: the files it fetched, raw and compressed as a
// server would precompress them (gzip -9, brotli quality 11).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const cache = new Map();

/** Sizes of one file (remembered: brotli at quality 11 takes seconds on a large wasm). */
export function fileSizes(path) {
  const bytes = readFileSync(path);
  const key = `${path} ${bytes.length} ${createHash('sha256').update(bytes).digest('hex')}`;
  if (!cache.has(key)) cache.set(key, compress(bytes));
  return cache.get(key);
}

function compress(bytes) {
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        [constants.BROTLI_PARAM_LGWIN]: 24,
      },
    }).length,
  };
}

/**
 * The files under `prefix` among the fetched URL paths, with their sizes and the totals.
 * `mounts` maps URL prefixes to directories, as given to scripts/serve.mjs.
 */
export function runtimeDownload(fetchedPaths, prefix, mounts) {
  const paths = [...new Set(fetchedPaths)].filter((p) => p.startsWith(prefix)).sort();
  const files = paths.map((path) => ({ path, ...fileSizes(join(mounts[prefix], path.slice(prefix.length))) }));
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const f of files) for (const k of Object.keys(total)) total[k] += f[k];
  return { files, total };
}
