// The scikit-learn models of wild.test.mjs (skl2onnx) on the full build, the one with
// LinearClassifier, Normalizer and TreeEnsembleClassifier.
process.env.ONNXLET_BUILD = 'full';
process.env.ONNXLET_WILD_ONLY = 'skl_';
await import('./wild.test.mjs');
