// The AudioWorklet processor of the microphone path: mixes its input to mono, resamples it from
// the AudioContext's rate to 16 kHz and posts Float32Array chunks of 512 samples to the page.
import { Resampler } from './resampler.js';

class ChunkProcessor extends AudioWorkletProcessor {
  /** @param {{ processorOptions?: { targetRate?: number, chunkSamples?: number } }} options */
  constructor(options) {
    super();
    const { targetRate = 16000, chunkSamples = 512 } = options.processorOptions ?? {};
    // `sampleRate` is the AudioWorkletGlobalScope's: the context's rate.
    this.resampler = new Resampler(sampleRate, targetRate);
    this.chunkSamples = chunkSamples;
    this.chunk = new Float32Array(chunkSamples);
    this.filled = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const mono = new Float32Array(channels[0].length);
    for (const channel of channels) for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / channels.length;
    for (const sample of this.resampler.push(mono)) {
      this.chunk[this.filled++] = sample;
      if (this.filled === this.chunkSamples) {
        this.port.postMessage(this.chunk, [this.chunk.buffer]);
        this.chunk = new Float32Array(this.chunkSamples);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('vad-chunker', ChunkProcessor);
