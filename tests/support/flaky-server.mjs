// Serves a model the ways networks fail, for the loading tests in Node and Chromium:
//   /<name>                 throttled (64 KiB every 2 ms), with Content-Length
//   /<name>?delay=D         64 KiB every D ms
//   /<name>?length=0        without Content-Length
//   /<name>?cut=N           drops the connection after N bytes
//   /<name>?stall           sends 64 KiB, then nothing
//   /<name>?garbage         100 KB that are not a model
//   /<name>?token=T         403 unless the request has the header `x-token: T`
// `models` maps names to files. Responses allow any origin, so pages on another port can fetch.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const CHUNK = 64 * 1024;

/** Starts the server on 127.0.0.1; resolves to { url, requests, close }. */
export async function flakyServer(models) {
  const bodies = new Map(Object.entries(models).map(([name, file]) => [`/${name}`, readFileSync(file)]));
  const requests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'x-token' };
    if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
    requests.push(url.pathname + url.search);
    let body = bodies.get(url.pathname);
    if (!body) return res.writeHead(404, cors).end();
    const query = url.searchParams;
    if (query.has('token') && req.headers['x-token'] !== query.get('token')) return res.writeHead(403, cors).end();
    if (query.has('garbage')) body = Buffer.alloc(100_000, 7);
    const cut = Number(query.get('cut') ?? (query.has('stall') ? CHUNK : Infinity));
    res.writeHead(200, {
      ...cors,
      'content-type': 'application/octet-stream',
      'cache-control': 'no-store',
      ...(query.get('length') === '0' ? {} : { 'content-length': body.length }),
    });
    for (let offset = 0; offset < body.length; offset += CHUNK) {
      if (offset >= cut) {
        if (!query.has('stall')) res.destroy();
        return undefined;
      }
      if (res.destroyed) return undefined;
      res.write(body.subarray(offset, Math.min(offset + CHUNK, cut)));
      await new Promise((r) => setTimeout(r, Number(query.get('delay') ?? 2)));
    }
    return res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}
