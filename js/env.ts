import { VERSION } from './flags.js';

/** The engines a session may run on: onnxlet's own interpreter (`lite`), or tract. */
export type EngineName = 'lite' | 'tract';

/** A WebAssembly module's code: its bytes, or the module compiled. */
export type WasmCode = ArrayBuffer | ArrayBufferView | WebAssembly.Module;

/** Global settings, read when the WebAssembly module is first needed. */
export interface Env {
  wasm: {
    /**
     * Where the modules (`onnxlet_lite_bg.wasm`, `onnxlet_bg.wasm`, …) live: a directory URL ending
     * in `/`, or the URL of one module file. Defaults to the files beside the onnxlet script
     * (`new URL('./onnxlet_lite_bg.wasm', import.meta.url)`, or the `<script>` tag's `src` for the
     * script-tag build). Never a CDN.
     */
    wasmPaths?: string | URL;
    /**
     * Which engine and module sessions use:
     * - `'auto'` (the default): the lite engine (`onnxlet_lite_bg.wasm`, or its relaxed-SIMD
     *   twin, onnxlet's own
     *   interpreter: small, quick to start, no compilation per input shape); a model it cannot
     *   run (an operator or dtype it lacks, `UNSUPPORTED_OPERATOR` at load) loads on the tract
     *   engine instead, whose module (`onnxlet_bg.wasm`, or its relaxed-SIMD twin) is fetched
     *   then. `session.engine` says which one a session got.
     * - `'lite'`: the lite engine only; a model it cannot run is refused with `UNSUPPORTED_OPERATOR`.
     * - `'tract'`: the tract engine with the common operators (`onnxlet_bg.wasm`). `'default'` is
     *   its former name.
     * - `'full'`: the tract engine with every operator tract implements (`onnxlet_full_bg.wasm`:
     *   also the DFT/STFT/window, ai.onnx.ml and attention operators).
     *
     * Sessions on more than one thread (`numThreads`) use the multi-threaded tract module. One
     * module, and no fallback, when `wasmBinary` or a `wasmPaths` naming a `.wasm` file gives it.
     */
    build?: 'auto' | 'lite' | 'tract' | 'full' | 'default';
    /**
     * Whether the engines load their relaxed-SIMD modules, `onnxlet_lite_relaxed_bg.wasm` and
     * `onnxlet_relaxed_bg.wasm`, instead of `onnxlet_lite_bg.wasm` and `onnxlet_bg.wasm`: the same
     * operators, with a matrix kernel that multiplies and adds in one fused instruction (faster
     * matrix products and convolutions; results may differ from the other module's in the last
     * bits). Unset (the default), they are used where `WebAssembly.validate` accepts relaxed SIMD
     * (Chromium 114+, Node 22+); `false` never uses them, `true` always does. The multi-threaded
     * module has its relaxed-SIMD twin too (`onnxlet_threads_relaxed_bg.wasm`); the full module
     * has none.
     */
    relaxedSimd?: boolean;
    /**
     * How many threads a session computes on, like onnxruntime-web's `env.wasm.numThreads`. Above
     * 1, sessions run in a dedicated worker on the multi-threaded tract module
     * (`onnxlet_threads_bg.wasm`, or its relaxed-SIMD twin, beside the script), whose threads
     * are Web Workers sharing its memory; that needs `SharedArrayBuffer`, which browsers give only to cross-origin-isolated
     * pages (served with `Cross-Origin-Opener-Policy: same-origin` and
     * `Cross-Origin-Embedder-Policy: require-corp`). Unset or 0 (the default): `min(4,
     * ceil(navigator.hardwareConcurrency / 2))` in a cross-origin-isolated page, else 1. Where
     * threads are not available (a page that is not isolated, Node, `build` `'full'` or `'lite'`, `wasmBinary`),
     * sessions run on one thread and a larger value is reported once on the console.
     */
    numThreads?: number;
    /**
     * The modules themselves, for runtimes that cannot fetch them or compile WebAssembly from bytes
     * (Cloudflare Workers, where a `.wasm` import is a compiled `WebAssembly.Module`); takes
     * precedence over `wasmPaths`, and nothing is fetched. Either, by engine,
     * `{ lite: onnxlet_lite_bg.wasm, tract?: onnxlet_bg.wasm }`: sessions run on the modules given,
     * in the order of `build` (with `'auto'` the lite one, then the tract one for a model lite
     * cannot run; `'tract'` and `'full'` take the tract one, which may be `onnxlet_full_bg.wasm`);
     * each module is checked to hold its engine when instantiated. Or one module (any of them) as it
     * is, which then runs every model.
     */
    wasmBinary?: WasmCode | { lite?: WasmCode; tract?: WasmCode };
  };
  cache: {
    /**
     * Where `cache: true` stores models outside browsers: a directory. Defaults, in Node, to
     * `$XDG_CACHE_HOME/onnxlet/models` (or `~/.cache/onnxlet/models`); browsers and workers use
     * the Cache API unless this is set.
     */
    directory?: string;
  };
  /** Package versions. */
  readonly versions: { readonly onnxlet: string };
}

/** Global settings; change them before the first `InferenceSession.create`. */
export const env: Env = {
  wasm: {},
  cache: {},
  versions: { onnxlet: VERSION },
};
