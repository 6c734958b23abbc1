// The decoders (decoders.test.mjs) on the tract module.
process.env.ONNXLET_BUILD = 'tract';
await import('./decoders.test.mjs');
