// Cloudflare's runtime, workerd (the `workerd` npm package), driven on 127.0.0.1: workers bundled
// the way wrangler bundles them, a capnp config, a static file server for what they fetch.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

import { root } from './models.mjs';

/**
 * Bundles `entry` into `outdir` as wrangler does: one ES module (`worker.js`, the `workerd` and
 * `worker` export conditions first), each `.wasm` import left as a module of its own beside it
 * (wrangler's CompiledWasm rule). Resolves to the module names and their sizes gzipped (level 9).
 */
export async function bundleWorker(entry, outdir) {
  const esbuild = await import('esbuild');
  mkdirSync(outdir, { recursive: true });
  const wasm = new Map();
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    logLevel: 'error',
    outfile: join(outdir, 'worker.js'),
    plugins: [
      {
        name: 'compiled-wasm',
        setup(build) {
          build.onResolve({ filter: /\.wasm$/ }, async ({ path, resolveDir, pluginData }) => {
            if (pluginData === 'wasm') return undefined;
            const { path: file } = await build.resolve(path, { resolveDir, kind: 'import-statement', pluginData: 'wasm' });
            const name = file.split(/[/\\]/).at(-1);
            wasm.set(name, file);
            return { path: `./${name}`, external: true };
          });
        },
      },
    ],
  });
  for (const [name, file] of wasm) writeFileSync(join(outdir, name), readFileSync(file));
  const modules = ['worker.js', ...wasm.keys()];
  const gzip = Object.fromEntries(modules.map((m) => [m, gzipSync(readFileSync(join(outdir, m)), { level: 9 }).length]));
  return { dir: outdir, modules, gzip };
}

/** Serves `route(path)`'s file (or 404) on 127.0.0.1; resolves to the server and its base URL. */
export async function serveFiles(route) {
  const server = createServer((req, res) => {
    try {
      res.end(readFileSync(route(decodeURIComponent(new URL(req.url, 'http://x').pathname))));
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

/** A port free now on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** One worker of the config in `configDir`: a bundle of {@link bundleWorker}, with text bindings. */
const workerConfig = (configDir, { dir, modules }, bindings) => `(
      modules = [${modules
        .map((m) => `(name = "${m}", ${m.endsWith('.wasm') ? 'wasm' : 'esModule'} = embed ${JSON.stringify(relative(configDir, join(dir, m)))})`)
        .join(', ')}],
      bindings = [${Object.entries(bindings).map(([k, v]) => `(name = "${k}", text = ${JSON.stringify(v)})`).join(', ')}],
      compatibilityDate = "2025-09-01",
      globalOutbound = "loopback",
    )`;

/**
 * Starts workerd with `workers` (name → { bundle, bindings }), each its own service (and isolate)
 * on a port of 127.0.0.1, their fetches allowed to 127.0.0.1 only. Resolves, once every worker
 * answers, to `{ urls, stop, startMs }` (`startMs`: process start to all answering).
 */
export async function startWorkerd(dir, workers) {
  const names = Object.keys(workers);
  const ports = {};
  for (const name of names) ports[name] = await freePort();
  const services = [
    ...names.map((n) => `(name = "${n}", worker = ${workerConfig(dir, workers[n].bundle, workers[n].bindings ?? {})})`),
    '(name = "loopback", network = (allow = ["local"]))',
  ];
  const sockets = names.map((n) => `(name = "${n}", address = "127.0.0.1:${ports[n]}", http = (), service = "${n}")`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";\nconst config :Workerd.Config = (\n  services = [\n    ${services.join(',\n    ')}\n  ],\n  sockets = [\n    ${sockets.join(',\n    ')}\n  ],\n);\n`,
  );
  const started = performance.now();
  const child = spawn(join(root, 'node_modules', '.bin', 'workerd'), ['serve', 'config.capnp'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const urls = Object.fromEntries(names.map((n) => [n, `http://127.0.0.1:${ports[n]}/`]));
  const stop = () => child.kill();
  for (const name of names) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode}:\n${log}`);
      if (await fetch(urls[name]).then(() => true, () => false)) break;
      if (performance.now() - started > 60_000) {
        stop();
        throw new Error(`workerd did not answer within 60 s:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return { urls, stop, startMs: performance.now() - started, log: () => log };
}
