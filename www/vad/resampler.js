// @ts-check
// A streaming band-limited resampler (windowed sinc, any rate ratio) for turning the
// microphone's 44.1 or 48 kHz into the 16 kHz silero-vad expects. It runs in the AudioWorklet;
// plain module, no DOM.

/** Kernel table entries per input sample of distance. */
const TABLE_RESOLUTION = 128;

export class Resampler {
  /**
   * @param {number} inputRate samples per second coming in
   * @param {number} outputRate samples per second going out
   * @param {{ zeroCrossings?: number, rolloff?: number }} [options] kernel half-width in zero
   *   crossings (16), and the cutoff as a fraction of the lower Nyquist frequency (0.92)
   */
  constructor(inputRate, outputRate, { zeroCrossings = 16, rolloff = 0.92 } = {}) {
    if (!(inputRate > 0 && outputRate > 0)) throw new RangeError(`sample rates must be positive, got ${inputRate} and ${outputRate}`);
    this.step = inputRate / outputRate;
    this.passthrough = inputRate === outputRate;
    /** Cutoff in cycles per input sample times 2 (1 = the input's Nyquist frequency). */
    const cutoff = Math.min(1, outputRate / inputRate) * rolloff;
    this.halfWidth = zeroCrossings / cutoff;
    const size = Math.ceil(this.halfWidth * TABLE_RESOLUTION) + 2;
    this.table = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const x = i / TABLE_RESOLUTION;
      if (x > this.halfWidth) break;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * cutoff * x) / (Math.PI * cutoff * x);
      const r = x / this.halfWidth;
      const blackman = 0.42 + 0.5 * Math.cos(Math.PI * r) + 0.08 * Math.cos(2 * Math.PI * r);
      this.table[i] = cutoff * sinc * blackman;
    }
    /** Input samples kept, the first at absolute index `bufferStart`. */
    this.buffer = new Float32Array(4096);
    this.bufferLength = 0;
    this.bufferStart = 0;
    /** Index of the next output sample. */
    this.next = 0;
  }

  /**
   * Takes the next input samples and returns the output samples they complete.
   * @param {Float32Array} input
   * @returns {Float32Array}
   */
  push(input) {
    if (this.passthrough) return input.slice();
    this.append(input);
    const available = this.bufferStart + this.bufferLength;
    const outputs = [];
    for (;;) {
      const t = this.next * this.step;
      if (Math.floor(t + this.halfWidth) >= available) break;
      outputs.push(this.sampleAt(t));
      this.next++;
    }
    this.discardBefore(Math.floor(this.next * this.step - this.halfWidth));
    return Float32Array.from(outputs);
  }

  /** @param {number} t position in input samples */
  sampleAt(t) {
    const first = Math.max(Math.ceil(t - this.halfWidth), 0);
    const last = Math.floor(t + this.halfWidth);
    let sum = 0;
    for (let i = first; i <= last; i++) {
      const position = Math.abs(i - t) * TABLE_RESOLUTION;
      const k = Math.floor(position);
      const frac = position - k;
      const weight = this.table[k] + frac * (this.table[k + 1] - this.table[k]);
      sum += weight * this.buffer[i - this.bufferStart];
    }
    return sum;
  }

  /** @param {Float32Array} input */
  append(input) {
    const needed = this.bufferLength + input.length;
    if (needed > this.buffer.length) {
      const grown = new Float32Array(Math.max(needed, 2 * this.buffer.length));
      grown.set(this.buffer.subarray(0, this.bufferLength));
      this.buffer = grown;
    }
    this.buffer.set(input, this.bufferLength);
    this.bufferLength = needed;
  }

  /** @param {number} index absolute input index no output needs any more */
  discardBefore(index) {
    const drop = Math.min(Math.max(0, index - this.bufferStart), this.bufferLength);
    if (drop === 0) return;
    this.buffer.copyWithin(0, drop, this.bufferLength);
    this.bufferLength -= drop;
    this.bufferStart += drop;
  }
}
