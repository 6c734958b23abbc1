// @ts-check
// Reads the samples of a RIFF/WAVE file: integer PCM (8, 16, 24 or 32 bits) or 32-bit float,
// channels averaged to mono, as floats in [-1, 1) (a 16-bit sample s is s / 32768).

/**
 * @typedef {object} Wav
 * @property {number} sampleRate samples per second
 * @property {number} channels channels in the file (the samples are their mean)
 * @property {Float32Array} samples mono samples
 */

/**
 * @param {ArrayBuffer} buffer the whole file
 * @returns {Wav}
 */
export function parseWav(buffer) {
  const view = new DataView(buffer);
  const tag = (/** @type {number} */ offset) => String.fromCharCode(...new Uint8Array(buffer, offset, 4));
  if (buffer.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a WAV file (no RIFF/WAVE header)');

  /** @type {{ format: number, channels: number, sampleRate: number, bits: number } | null} */
  let fmt = null;
  let offset = 12;
  while (offset + 8 <= buffer.byteLength) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      let format = view.getUint16(body, true);
      if (format === 0xfffe && size >= 26) format = view.getUint16(body + 24, true);
      fmt = { format, channels: view.getUint16(body + 2, true), sampleRate: view.getUint32(body + 4, true), bits: view.getUint16(body + 14, true) };
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV: the data chunk comes before the fmt chunk');
      const end = Math.min(body + size, buffer.byteLength);
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, samples: decode(view, body, end, fmt) };
    }
    offset = body + size + (size % 2);
  }
  throw new Error('WAV: no data chunk');
}

/**
 * @param {DataView} view
 * @param {number} start
 * @param {number} end
 * @param {{ format: number, channels: number, bits: number }} fmt
 */
function decode(view, start, end, { format, channels, bits }) {
  const bytes = bits / 8;
  /** @type {(offset: number) => number} */
  let read;
  if (format === 3 && bits === 32) read = (o) => view.getFloat32(o, true);
  else if (format !== 1) throw new Error(`WAV: unsupported format ${format} (PCM and 32-bit float are supported)`);
  else if (bits === 8) read = (o) => (view.getUint8(o) - 128) / 128;
  else if (bits === 16) read = (o) => view.getInt16(o, true) / 32768;
  else if (bits === 24) read = (o) => ((view.getUint8(o) | (view.getUint8(o + 1) << 8) | (view.getInt8(o + 2) << 16)) / 8388608);
  else if (bits === 32) read = (o) => view.getInt32(o, true) / 2147483648;
  else throw new Error(`WAV: unsupported sample size ${bits} bits`);
  if (channels < 1) throw new Error('WAV: no channels');

  const frame = bytes * channels;
  const frames = Math.floor((end - start) / frame);
  const samples = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(start + i * frame + c * bytes);
    samples[i] = sum / channels;
  }
  return samples;
}
