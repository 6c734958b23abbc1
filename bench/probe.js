// Records every WebAssembly instantiation and the WebAssembly.Memory objects it imports or
// exports, so that the benchmark can read a runtime's wasm memory and compile time without
// touching the runtime. Loaded before anything else: as a Playwright init script (a classic
// script) in the browser, and as the first import in Node. Reads: globalThis.__wasmProbe.
(() => {
  const g = globalThis;
  if (g.__wasmProbe) return;
  const W = g.WebAssembly;
  const probe = {
    /** One record per instance: how it was made, how long it took, its export count. */
    instances: [],
    /** Every distinct Memory seen in an instance's imports or exports, with its owner. */
    memories: [],
    /** Total bytes of the current buffers of every memory but the host's own (see `internal`); undefined if none. */
    memoryBytes() {
      const own = probe.memories.filter((m) => !m.internal);
      // None: the runtime computes in workers (onnxlet on several threads), out of this probe's sight.
      if (own.length === 0) return undefined;
      return own.reduce((sum, m) => sum + m.memory.buffer.byteLength, 0);
    },
  };
  const seen = new Set();
  const record = (how, imports, instance, ms) => {
    const exportNames = instance ? Object.keys(instance.exports) : [];
    // Node's fetch parses HTTP with a wasm build of llhttp: the host's, not the runtime's.
    const internal = exportNames.includes('llhttp_init');
    const addMemory = (value) => {
      if (value instanceof W.Memory && !seen.has(value)) {
        seen.add(value);
        probe.memories.push({ memory: value, internal });
      }
    };
    if (imports && typeof imports === 'object') {
      for (const space of Object.values(imports)) {
        if (space && typeof space === 'object') Object.values(space).forEach(addMemory);
      }
    }
    if (instance) Object.values(instance.exports).forEach(addMemory);
    probe.instances.push({ how, ms, exports: exportNames.length, ...(internal ? { internal } : {}) });
  };
  const wrapAsync = (name) => {
    const original = W[name];
    if (typeof original !== 'function') return;
    W[name] = function (source, imports, ...rest) {
      const started = performance.now();
      return original.call(this, source, imports, ...rest).then((result) => {
        const instance = result instanceof W.Instance ? result : result.instance;
        record(name, imports, instance, performance.now() - started);
        return result;
      });
    };
  };
  wrapAsync('instantiate');
  wrapAsync('instantiateStreaming');
  W.Instance = new Proxy(W.Instance, {
    construct(target, args, newTarget) {
      const started = performance.now();
      const instance = Reflect.construct(target, args, newTarget);
      record('Instance', args[1], instance, performance.now() - started);
      return instance;
    },
  });
  g.__wasmProbe = probe;
})();
