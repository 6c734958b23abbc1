// The converters' models (wild.test.mjs) through the lite module: each one it accepts agrees
// with onnxruntime; the others are refused with UNSUPPORTED_OPERATOR.
process.env.ONNXLET_BUILD = 'lite';
await import('./wild.test.mjs');
