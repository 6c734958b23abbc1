// The ONNX backend node tests through the lite module: every case of
// tests/conformance/expected-pass-lite.txt passes, and the wasm run agrees with the native one.
process.env.ONNXLET_BUILD = 'lite';
await import('./conformance.test.mjs');
