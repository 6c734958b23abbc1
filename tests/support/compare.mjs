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

/** 0 when two arrays of strings (class labels) are identical, Infinity otherwise: a label is right or wrong. */
export function labelError(actual, expected) {
  return actual.length === expected.length && expected.every((v, i) => actual[i] === v) ? 0 : Infinity;
}

/** max |a - b| over all elements. */
export function maxAbsError(actual, expected) {
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(Number(actual[i]) - Number(expected[i])));
  return diff;
}

/**
 * The indices of the k largest values of each row (as a sorted list), or null for a row where
 * the k-th and (k+1)-th values tie, so that the set is not defined.
 */
export function topKRows(values, row, k) {
  const out = [];
  for (let start = 0; start < values.length; start += row) {
    const order = Array.from({ length: row }, (_, i) => i).sort((a, b) => values[start + b] - values[start + a]);
    const kth = values[start + order[k - 1]];
    const next = row > k ? values[start + order[k]] : -Infinity;
    out.push(kth - next > 1e-6 * Math.abs(kth) ? order.slice(0, k).sort((a, b) => a - b) : null);
  }
  return out;
}

export const ARRAYS = {
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

/**
 * The elements of a `.bin` file: a typed array over little-endian bytes, or for `string` an
 * array of strings (each stored as its UTF-8 byte length, u32 little-endian, then its bytes).
 */
export function typedArray(type, bytes) {
  if (type === 'string') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const strings = [];
    for (let offset = 0; offset < bytes.length; ) {
      const length = view.getUint32(offset, true);
      strings.push(new TextDecoder().decode(bytes.subarray(offset + 4, offset + 4 + length)));
      offset += 4 + length;
    }
    return strings;
  }
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
    const errors = [];
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
      const record = { output: expected.name, maxAbs: maxAbsError(actual.data, reference), maxRel: err };
      if (!(err <= 1e-4)) failures.push(`${expected.name}: relative error ${err.toExponential(2)} > 1e-4`);
      if (model.classifier && ix === 0) {
        // Classes are everything but the batch axis ([1, 1000, 1, 1] is one row of 1000).
        const row = expected.dims.slice(1).reduce((a, b) => a * b, 1);
        const agree = (k) => {
          const want = topKRows(reference, row, k);
          const got = topKRows(actual.data, row, k);
          const rows = want.map((w, r) => [w, got[r]]).filter(([w]) => w !== null);
          return { agree: rows.filter(([w, g]) => g !== null && w.join() === g.join()).length, rows: rows.length };
        };
        record.top1 = agree(1);
        record.top5 = agree(Math.min(5, row));
        if (record.top1.agree !== record.top1.rows) failures.push(`${expected.name}: top-1 differs`);
      }
      errors.push(record);
    }
    const maxError = Math.max(0, ...errors.map((e) => e.maxRel));
    results.push({ case: k, ms, maxError, errors, failures });
  }
  return results;
}
