// The hostile tiny models of hostile.test.mjs through the lite module.
process.env.ONNXLET_BUILD = 'lite';
await import('./hostile.test.mjs');
