// The converters' models (wild.test.mjs) with the default routing (env.wasm.build = 'auto'): the
// lite engine runs what it can (float16 models too, in float32), and the quantized models, which
// it refuses at load, run on tract, whose module is fetched then.
process.env.ONNXLET_BUILD = 'auto';
await import('./wild.test.mjs');
