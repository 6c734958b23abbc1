import { OnnxletError } from './errors.js';

/** Node's file system (also Deno's and Bun's Node compatibility), imported out of sight of bundlers. */
export async function nodeFs(path: string | URL): Promise<typeof import('node:fs/promises')> {
  const specifier = 'node:fs/promises';
  try {
    return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as typeof import('node:fs/promises');
  } catch {
    throw new OnnxletError('FETCH_FAILED', `cannot read ${String(path)}: no file system in this environment`);
  }
}

/** A local path as an absolute `file:` URL (against the working directory), for a worker. */
export async function fileUrl(path: string): Promise<string> {
  const specifier = 'node:url';
  const { pathToFileURL } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as typeof import('node:url');
  return pathToFileURL(path).href;
}

/** Reads a whole local file. */
export async function readLocalFile(path: string | URL): Promise<Uint8Array> {
  const fs = await nodeFs(path);
  try {
    return await fs.readFile(path);
  } catch (error) {
    throw new OnnxletError('FETCH_FAILED', `cannot read ${String(path)}: ${(error as Error).message}`, { cause: error });
  }
}
