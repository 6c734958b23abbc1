declare const __ONNXLET_VERSION__: string;

/** Global settings, read when the WebAssembly module is first needed. */
export interface Env {
  wasm: {
    /**
     * Where `onnxlet_bg.wasm` lives: a directory URL ending in `/`, or the URL of the file itself.
     * Defaults to the file beside the onnxlet script (`new URL('./onnxlet_bg.wasm', import.meta.url)`,
     * or the `<script>` tag's `src` for the script-tag build). Never a CDN.
     */
    wasmPaths?: string | URL;
    /**
     * Which module `wasmPaths` (or the default location) names: `'default'` (`onnxlet_bg.wasm`,
     * the common operators), `'full'` (`onnxlet_full_bg.wasm`, every operator tract implements:
     * also the DFT/STFT/window, ai.onnx.ml and attention operators) or `'lite'`
     * (`onnxlet_lite_bg.wasm`, a fraction of the default's size: onnxlet's own interpreter for
     * common float32 models instead of tract, one thread; a model with an operator it lacks fails
     * to load with `UNSUPPORTED_OPERATOR`, see docs/size.md). Ignored when `wasmPaths` is the URL
     * of a `.wasm` file or `wasmBinary` is set.
     */
    build?: 'default' | 'full' | 'lite';
    /**
     * Whether the default build loads its relaxed-SIMD module, `onnxlet_relaxed_bg.wasm`, instead
     * of `onnxlet_bg.wasm`: the same operators, with a matrix kernel that multiplies and adds in
     * one fused instruction (about 15% faster on matrix products; results may differ from the
     * other module's in the last bits). Unset (the default), it is used where
     * `WebAssembly.validate` accepts relaxed SIMD (Chromium 114+, Node 22+); `false` never uses
     * it, `true` always does. The multi-threaded module has its relaxed-SIMD twin too
     * (`onnxlet_threads_relaxed_bg.wasm`); the full build has none.
     */
    relaxedSimd?: boolean;
    /**
     * How many threads a session computes on, like onnxruntime-web's `env.wasm.numThreads`. Above
     * 1, sessions run in a dedicated worker on the multi-threaded module
     * (`onnxlet_threads_bg.wasm`, or its relaxed-SIMD twin, beside the script), whose threads
     * are Web Workers sharing its memory; that needs `SharedArrayBuffer`, which browsers give only to cross-origin-isolated
     * pages (served with `Cross-Origin-Opener-Policy: same-origin` and
     * `Cross-Origin-Embedder-Policy: require-corp`). Unset or 0 (the default): `min(4,
     * ceil(navigator.hardwareConcurrency / 2))` in a cross-origin-isolated page, else 1. Where
     * threads are not available (a page that is not isolated, Node, the full and lite builds, `wasmBinary`),
     * sessions run on one thread and a larger value is reported once on the console.
     */
    numThreads?: number;
    /** The module itself, as bytes or a compiled `WebAssembly.Module`; takes precedence over `wasmPaths`. */
    wasmBinary?: ArrayBuffer | ArrayBufferView | WebAssembly.Module;
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
  versions: { onnxlet: __ONNXLET_VERSION__ },
};
