// This thread's WebAssembly modules, how their code is obtained, and which of them a session
// tries, all for a ModuleConfig (js/module-config.ts: which files). Their lifecycle is js/module.ts's.
import { createGlue as liteGlue } from '../pkg/lite/onnxlet.factory.js';
import { createGlue as tractGlue } from '../pkg/onnxlet.factory.js';

import type { EngineName } from './env.js';
import { OnnxletError } from './errors.js';
import { THREADS_BUNDLE } from './flags.js';
import { readLocalFile } from './local-file.js';
import { type ModuleConfig, expectedEngine, liteFile, pathsNameOneFile, tractFile, wasmUrl } from './module-config.js';
import { type ModuleCode, ModuleKind, type WasmModule } from './module.js';

/** The code of the module `file` of `engine`: from `wasmBinary`, a local file, or a fetch. */
async function wasmCode(config: ModuleConfig, engine: EngineName, file: string): Promise<ModuleCode> {
  const { given } = config;
  if (given !== undefined) {
    const code = 'one' in given ? given.one : given[engine];
    if (code !== undefined) return code as BufferSource | WebAssembly.Module;
  }
  const url = wasmUrl(config, file);
  if (url.protocol === 'file:') return readLocalFile(url);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new OnnxletError('FETCH_FAILED', `could not fetch ${url.href}: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok) {
    throw new OnnxletError('FETCH_FAILED', `could not fetch ${url.href}: HTTP ${response.status} ${response.statusText}`);
  }
  return response;
}

/**
 * The lite module: onnxlet's own interpreter, small and quick to start, for the operators and
 * dtypes most models use; in the multi-threaded worker, its threads module.
 */
export const lite = new ModuleKind(
  'lite',
  liteGlue,
  THREADS_BUNDLE,
  (config) => wasmCode(config, 'lite', liteFile(config)),
  (config) => expectedEngine(config, 'lite'),
);

/**
 * The tract module: the default one (`onnxlet_bg.wasm` or its relaxed-SIMD twin), the full one,
 * or in the multi-threaded worker the threads one. Its glue also loads any module given as
 * `env.wasm.wasmBinary`, since it imports what every module imports.
 */
export const tract = new ModuleKind(
  'tract',
  tractGlue,
  THREADS_BUNDLE,
  (config) => wasmCode(config, 'tract', tractFile(config)),
  (config) => expectedEngine(config, 'tract'),
);

/**
 * The modules a new session tries, in order: with `build` `'auto'` (the default) the lite
 * module, then, for a model it cannot run (`UNSUPPORTED_OPERATOR` at load), the tract module,
 * fetched then (in the multi-threaded worker, their threads modules). One module when a build is
 * forced, and when `wasmBinary` or a `wasmPaths` naming a `.wasm` file gives the module. With
 * `wasmBinary` giving modules by engine, only those given.
 */
export function sessionModules(config: ModuleConfig): ModuleKind[] {
  const { build: chosen, given } = config;
  if (given !== undefined && 'one' in given) return [tract];
  if (given === undefined && pathsNameOneFile(config)) return [chosen === 'lite' ? lite : tract];
  const wanted = chosen === 'auto' ? [lite, tract] : [chosen === 'lite' ? lite : tract];
  if (given === undefined) return wanted;
  const modules = wanted.filter((m) => given[m === lite ? 'lite' : 'tract'] !== undefined);
  if (modules.length === 0) {
    throw new OnnxletError(
      'INVALID_ARGUMENT',
      `env.wasm.build is '${chosen}', whose module env.wasm.wasmBinary does not give (it gives ` +
        `${Object.keys(given).filter((k) => given[k as EngineName] !== undefined).join(' and ')})`,
    );
  }
  return modules;
}

/**
 * Advice for a model the lite engine refused when `env.wasm.build` is `'auto'` but
 * `env.wasm.wasmBinary` gives no tract module to fall back to (as in Cloudflare Workers), or
 * `undefined`.
 */
export function tractNotGiven({ build, given }: ModuleConfig): string | undefined {
  if (THREADS_BUNDLE || build !== 'auto') return undefined;
  if (given === undefined || 'one' in given || given.tract !== undefined) return undefined;
  return (
    'env.wasm.wasmBinary gives no tract module, so the tract engine was not tried: import ' +
    "onnxlet/onnxlet_bg.wasm too and set env.wasm.wasmBinary = { lite, tract } (docs/api.md#cloudflare-workers)"
  );
}

/** The module instances alive in this thread now (one per session, and the shared ones). */
export function instantiatedModules(): WasmModule[] {
  return [lite, tract].flatMap((kind) => kind.instantiated());
}
