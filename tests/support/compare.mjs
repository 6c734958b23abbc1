// Reference comparison shared by the Node and browser tests (plain ESM, no dependencies).

/** max |a - b| / max |b|: the error relative to the output's magnitude. */
export function relativeError(actual, expected) {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(Number(expected[i])));
    diff = Math.max(diff, Math.abs(Number(actual[i]) - Number(expected[i])));
  }
  return diff / Math.max(scale, Number.MIN_VALUE);
}

/** The index of the largest value of each row, or null for a row whose top is tied. */
export function argmaxRows(values, row) {
  const out = [];
  for (let start = 0; start < values.length; start += row) {
    let best = start;
    let second = -Infinity;
    for (let i = start + 1; i < start + row; i++) {
      if (values[i] > values[best]) {
        second = values[best];
        best = i;
      } else if (values[i] > second) {
        second = values[i];
      }
    }
    const unique = second === -Infinity || values[best] - second > 1e-6 * Math.abs(values[best]);
    out.push(unique ? best - start : null);
  }
  return out;
}

const ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/** A typed array over little-endian bytes. */
export function typedArray(type, bytes) {
  const Ctor = ARRAYS[type];
  if (!Ctor) throw new Error(`no typed array for ${type}`);
  const copy = bytes.slice();
  return new Ctor(copy.buffer, copy.byteOffset, copy.byteLength / Ctor.BYTES_PER_ELEMENT);
}

/**
 * Runs every case of a model entry from the index; `readBytes(file)` returns a Uint8Array.
 * Returns one record per case with the error of each output and any failure text.
 */
export async function checkModel(onnxlet, session, model, readBytes) {
  const results = [];
  for (const [k, c] of model.cases.entries()) {
    const feeds = {};
    for (const input of c.inputs) {
      feeds[input.name] = new onnxlet.Tensor(input.type, typedArray(input.type, await readBytes(input.file)), input.dims);
    }
    const started = performance.now();
    const outputs = await session.run(feeds);
    const ms = performance.now() - started;
    const failures = [];
    let maxError = 0;
    for (const [ix, expected] of c.outputs.entries()) {
      const actual = outputs[expected.name];
      if (!actual) {
        failures.push(`missing output ${expected.name}`);
        continue;
      }
      if (actual.dims.join(',') !== expected.dims.join(',')) {
        failures.push(`${expected.name}: dims [${actual.dims}] != [${expected.dims}]`);
        continue;
      }
      const reference = typedArray(expected.type, await readBytes(expected.file));
      const err = relativeError(actual.data, reference);
      maxError = Math.max(maxError, err);
      if (!(err <= 1e-4)) failures.push(`${expected.name}: relative error ${err.toExponential(2)} > 1e-4`);
      if (model.classifier && ix === 0) {
        const row = expected.dims[expected.dims.length - 1];
        const want = argmaxRows(reference, row);
        const got = argmaxRows(actual.data, row);
        want.forEach((w, r) => {
          if (w !== null && got[r] !== w) failures.push(`${expected.name}: top-1 of row ${r} is ${got[r]}, expected ${w}`);
        });
      }
    }
    results.push({ case: k, ms, maxError, failures });
  }
  return results;
}
