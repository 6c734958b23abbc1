// @ts-check
// silero-vad 6.2.3's stateful protocol (utils_vad.py, OnnxWrapper.__call__) over an onnxlet
// session: each 512-sample chunk at 16 kHz goes in with the previous 64 samples in front of it
// (input [1, 576]), and the recurrent state [2, 1, 128] the model returns is fed back with the
// next chunk.
import { Tensor } from '/dist/onnxlet.mjs';

export const SAMPLE_RATE = 16000;
export const CHUNK_SAMPLES = 512;
export const CONTEXT_SAMPLES = 64;
const STATE_SIZE = 2 * 1 * 128;

export class SileroVad {
  /** @param {import('/dist/index.d.ts').InferenceSession} session silero_vad model.onnx */
  constructor(session) {
    for (const name of ['input', 'state', 'sr']) {
      if (!session.inputNames.includes(name)) throw new Error(`not a silero-vad model: no input "${name}" (inputs: ${session.inputNames.join(', ')})`);
    }
    for (const name of ['output', 'stateN']) {
      if (!session.outputNames.includes(name)) throw new Error(`not a silero-vad model: no output "${name}" (outputs: ${session.outputNames.join(', ')})`);
    }
    this.session = session;
    this.sr = new Tensor('int64', BigInt64Array.of(BigInt(SAMPLE_RATE)), []);
    /** @type {Float32Array} the recurrent state, [2, 1, 128] */
    this.state = new Float32Array(STATE_SIZE);
    /** @type {Float32Array} the last samples of the previous chunk */
    this.context = new Float32Array(CONTEXT_SAMPLES);
  }

  /** Starts a new stream: zero state, zero context. */
  reset() {
    this.state = new Float32Array(STATE_SIZE);
    this.context = new Float32Array(CONTEXT_SAMPLES);
  }

  /**
   * The speech probability of the next chunk. Calls must not overlap: each needs the state
   * the previous one returned.
   * @param {Float32Array} chunk CHUNK_SAMPLES samples at 16 kHz
   * @returns {Promise<number>}
   */
  async process(chunk) {
    if (chunk.length !== CHUNK_SAMPLES) throw new RangeError(`a chunk has ${CHUNK_SAMPLES} samples, got ${chunk.length}`);
    const input = new Float32Array(CONTEXT_SAMPLES + CHUNK_SAMPLES);
    input.set(this.context);
    input.set(chunk, CONTEXT_SAMPLES);
    const outputs = await this.session.run({
      input: new Tensor('float32', input, [1, input.length]),
      state: new Tensor('float32', this.state, [2, 1, 128]),
      sr: this.sr,
    });
    this.state = /** @type {Float32Array} */ (outputs.stateN.data);
    this.context = input.slice(CHUNK_SAMPLES);
    return /** @type {Float32Array} */ (outputs.output.data)[0];
  }
}
