// The error tests of errors.test.mjs with every session on the tract engine
// (env.wasm.build = 'tract'), which runs the models the lite engine cannot.
process.env.ONNXLET_BUILD = 'tract';
await import('./errors.test.mjs');
