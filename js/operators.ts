import type { EngineName } from './env.js';
import { resolveConfig } from './module-config.js';
import { sessionModules } from './wasm.js';

/** An operator a model may use. */
export interface OperatorInfo {
  /** `ai.onnx` or `ai.onnx.ml`. */
  readonly domain: string;
  readonly name: string;
  /**
   * The lowest and highest opset at which the tract engine passes the ONNX backend node tests
   * (natively and in wasm; see docs/operators.md), or `null` when no node test covers it or
   * only the lite engine is listed.
   */
  readonly opsets: readonly [number, number] | null;
  /**
   * The engines that run it, of those `env.wasm.build` lets a session use: `'lite'` (the
   * default engine) and `'tract'` (the engine a model falls back to when the lite one lacks one of
   * its operators).
   */
  readonly engines: readonly EngineName[];
}

/**
 * Every operator a session can run, sorted by domain and name, listed from the same registries
 * the engines check models against, with the engines that have each. A model using any other
 * operator is rejected at load with `UNSUPPORTED_OPERATOR`. Loads the WebAssembly modules of
 * the engines `env.wasm.build` selects (with the default `'auto'`, the lite and the tract
 * module) if they are not loaded yet.
 */
export async function supportedOperators(): Promise<readonly OperatorInfo[]> {
  const byName = new Map<string, { domain: string; name: string; opsets: [number, number] | null; engines: EngineName[] }>();
  const config = resolveConfig();
  for (const kind of sessionModules(config)) {
    const module = kind.shared();
    await module.initialize(config);
    const { engine } = module;
    const listed = module.call('listing the operators', () => module.glue.supportedOperators());
    for (const { domain, name, opsets } of listed) {
      const key = `${domain}\u0000${name}`;
      const known = byName.get(key);
      if (known === undefined) {
        byName.set(key, { domain, name, opsets: opsets === null ? null : [opsets[0], opsets[1]], engines: [engine] });
      } else {
        known.engines.push(engine);
        if (engine === 'tract') known.opsets = opsets === null ? null : [opsets[0], opsets[1]];
      }
    }
  }
  const all = [...byName.values()].sort((a, b) => (a.domain === b.domain ? (a.name < b.name ? -1 : 1) : a.domain < b.domain ? -1 : 1));
  return Object.freeze(
    all.map(({ opsets, engines, ...rest }) =>
      Object.freeze({ ...rest, opsets: opsets && Object.freeze(opsets), engines: Object.freeze(engines.sort()) }),
    ),
  );
}
