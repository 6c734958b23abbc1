// @ts-check
// Speech segments from a stream of silero-vad probabilities, one per 512-sample chunk, as they
// arrive: the streaming form of silero-vad's `get_speech_timestamps_from_probs` (utils_vad.py,
// silero-vad 6.2.3) with its defaults, giving the same segments once the stream has ended.
//
// What differs from the package:
// - `max_speech_duration_s` is not supported (the package's default, infinity, disables it);
// - a segment is final as soon as `min_silence_duration_ms` of silence has followed it, with its
//   padding applied then. The package pads after the whole audio is known, and merges two
//   segments closer than twice the padding; with min_silence >= 2 x speech_pad (as with the
//   defaults, 100 ms and 30 ms) two kept segments are always further apart than that, so the
//   result is the same, and the constructor refuses other settings;
// - VADIterator, the package's own streaming helper, reports starts and ends without
//   min_speech_duration_ms; here a segment shorter than that is dropped, as in
//   get_speech_timestamps, and the one in progress is reported separately (`open`).

/**
 * @typedef {{ start: number, end: number }} Segment sample offsets, end exclusive
 */

/**
 * @typedef {object} SegmenterOptions
 * @property {number} [threshold] speech when the probability is at least this (0.5)
 * @property {number} [negThreshold] silence, once speaking, below this (threshold - 0.15, at least 0.01)
 * @property {number} [minSpeechMs] shorter segments are dropped (250)
 * @property {number} [minSilenceMs] silence that ends a segment (100)
 * @property {number} [speechPadMs] padding added to each side of a segment (30)
 * @property {number} [sampleRate] 16000
 * @property {number} [chunkSamples] samples per probability (512 at 16 kHz)
 */

export class SpeechSegmenter {
  /** @param {SegmenterOptions} [options] */
  constructor({ threshold = 0.5, negThreshold, minSpeechMs = 250, minSilenceMs = 100, speechPadMs = 30, sampleRate = 16000, chunkSamples = 512 } = {}) {
    this.threshold = threshold;
    this.negThreshold = negThreshold ?? Math.max(threshold - 0.15, 0.01);
    this.minSpeechSamples = (sampleRate * minSpeechMs) / 1000;
    this.minSilenceSamples = (sampleRate * minSilenceMs) / 1000;
    this.padSamples = (sampleRate * speechPadMs) / 1000;
    this.chunkSamples = chunkSamples;
    if (this.minSilenceSamples < 2 * this.padSamples) {
      throw new RangeError(`minSilenceMs (${minSilenceMs}) must be at least twice speechPadMs (${speechPadMs}) for segments to be final when their silence ends`);
    }
    this.index = 0;
    this.triggered = false;
    this.start = 0;
    this.tempEnd = 0;
    /** @type {Segment[]} */
    this.segments = [];
  }

  /**
   * Takes the probability of the next chunk.
   * @param {number} prob
   * @returns {Segment | null} the segment this chunk completed, if any
   */
  push(prob) {
    const current = this.chunkSamples * this.index++;
    if (prob >= this.threshold && this.tempEnd) this.tempEnd = 0;
    if (prob >= this.threshold && !this.triggered) {
      this.triggered = true;
      this.start = current;
      return null;
    }
    if (prob < this.negThreshold && this.triggered) {
      if (!this.tempEnd) this.tempEnd = current;
      if (current - this.tempEnd < this.minSilenceSamples) return null;
      const end = this.tempEnd;
      this.triggered = false;
      this.tempEnd = 0;
      if (end - this.start > this.minSpeechSamples) return this.keep(this.start, end + this.padSamples);
    }
    return null;
  }

  /**
   * Ends the stream after `sampleCount` samples: a segment still open is kept up to the end if
   * it is long enough.
   * @param {number} sampleCount samples the stream held (the last chunk may have been padded)
   * @returns {Segment[]} all the segments
   */
  finish(sampleCount) {
    if (this.triggered && sampleCount - this.start > this.minSpeechSamples) this.keep(this.start, sampleCount);
    this.triggered = false;
    this.tempEnd = 0;
    return this.segments;
  }

  /**
   * The segment in progress (from its padded start to the current chunk's end), or null.
   * @returns {Segment | null}
   */
  get open() {
    if (!this.triggered) return null;
    return { start: Math.trunc(Math.max(0, this.start - this.padSamples)), end: this.index * this.chunkSamples };
  }

  /**
   * @param {number} start
   * @param {number} end padded end
   */
  keep(start, end) {
    const segment = { start: Math.trunc(Math.max(0, start - this.padSamples)), end: Math.trunc(end) };
    this.segments.push(segment);
    return segment;
  }
}
