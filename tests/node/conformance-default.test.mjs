// The ONNX backend node tests through the default build: every case of
// tests/conformance/expected-pass.txt passes, or is rejected at load with UNSUPPORTED_OPERATOR
// because its operator is only in the full build (which conformance.test.mjs runs).
process.env.ONNXLET_BUILD = 'default';
await import('./conformance.test.mjs');
