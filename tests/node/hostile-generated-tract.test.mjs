// The generated hostile cases of hostile-generated.test.mjs with every session on the tract
// engine (env.wasm.build = 'tract'), which runs the models the lite engine cannot.
process.env.ONNXLET_BUILD = 'tract';
await import('./hostile-generated.test.mjs');
