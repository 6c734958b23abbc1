// The build-time flags, read in this file only: scripts/build.mjs defines them per bundle, and
// esbuild drops the branches a bundle does not take.
declare const __ONNXLET_VERSION__: string;
declare const __ONNXLET_IIFE__: boolean;
declare const __ONNXLET_THREADS__: boolean;

/** The package version. */
export const VERSION: string = __ONNXLET_VERSION__;

/** True in the script-tag build (`onnxlet.min.js`), which finds its files beside its `<script src>`. */
export const SCRIPT_TAG: boolean = __ONNXLET_IIFE__;

/** True in the multi-threaded worker's bundle, whose tract glue is the threads build's. */
export const THREADS_BUNDLE: boolean = __ONNXLET_THREADS__;
