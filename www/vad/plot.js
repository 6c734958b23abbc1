// @ts-check
// The live plot: speech probability per chunk over the last seconds, scrolling left as chunks
// arrive, with the thresholds as dashed lines and the speech segments as shaded spans.

/**
 * @typedef {{ start: number, end: number }} Segment sample offsets
 */

/**
 * @typedef {object} PlotData
 * @property {ArrayLike<number>} probs one probability per chunk, oldest first
 * @property {Segment[]} segments final segments
 * @property {Segment | null} open the segment in progress
 * @property {number} [seconds] how many seconds to show (the constructor's by default)
 */

const COLORS = {
  background: '#fbfcfe',
  grid: '#e3e7ee',
  text: '#5b6475',
  line: '#3557c8',
  fill: 'rgba(53, 87, 200, 0.05)',
  segment: 'rgba(27, 122, 67, 0.16)',
  segmentEdge: 'rgba(27, 122, 67, 0.7)',
  open: 'rgba(27, 122, 67, 0.08)',
  threshold: '#b3261e',
  negThreshold: '#d08a1e',
};

export class ProbabilityPlot {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{ seconds?: number, sampleRate?: number, chunkSamples?: number, threshold?: number, negThreshold?: number }} [options]
   */
  constructor(canvas, { seconds = 8, sampleRate = 16000, chunkSamples = 512, threshold = 0.5, negThreshold = 0.35 } = {}) {
    this.canvas = canvas;
    this.seconds = seconds;
    this.sampleRate = sampleRate;
    this.chunkSamples = chunkSamples;
    this.threshold = threshold;
    this.negThreshold = negThreshold;
    /** @type {PlotData} */
    this.data = { probs: [], segments: [], open: null };
    this.scheduled = false;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /**
   * Shows `data` at the next animation frame (several updates in one frame draw once).
   * @param {PlotData} data
   */
  update(data) {
    this.data = data;
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  draw() {
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const g = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = COLORS.background;
    g.fillRect(0, 0, width, height);

    const left = 34;
    const right = width - 8;
    const top = 8;
    const bottom = height - 22;
    const { probs, segments, open } = this.data;
    const seconds = this.data.seconds ?? this.seconds;
    const now = (probs.length * this.chunkSamples) / this.sampleRate;
    const t0 = Math.max(0, now - seconds);
    const x = (/** @type {number} */ t) => left + ((t - t0) / seconds) * (right - left);
    const y = (/** @type {number} */ p) => bottom - p * (bottom - top);

    g.font = '11px system-ui, sans-serif';
    g.fillStyle = COLORS.text;
    g.strokeStyle = COLORS.grid;
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (const p of [0, 0.5, 1]) {
      g.beginPath();
      g.moveTo(left, y(p));
      g.lineTo(right, y(p));
      g.stroke();
      g.fillText(p.toFixed(1), left - 6, y(p));
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    const tick = seconds > 30 ? 5 : seconds > 15 ? 2 : 1;
    for (let s = Math.ceil(t0 / tick) * tick; s <= t0 + seconds; s += tick) {
      g.beginPath();
      g.moveTo(x(s), top);
      g.lineTo(x(s), bottom);
      g.stroke();
      g.fillText(`${s} s`, x(s), bottom + 5);
    }

    g.save();
    g.beginPath();
    g.rect(left, top, right - left, bottom - top);
    g.clip();
    const span = (/** @type {Segment} */ s, /** @type {string} */ fill) => {
      const a = x(s.start / this.sampleRate);
      const b = x(s.end / this.sampleRate);
      if (b < left || a > right) return;
      g.fillStyle = fill;
      g.fillRect(a, top, b - a, bottom - top);
      return [a, b];
    };
    for (const s of segments) {
      const edges = span(s, COLORS.segment);
      if (!edges) continue;
      g.strokeStyle = COLORS.segmentEdge;
      g.beginPath();
      for (const e of edges) {
        g.moveTo(e, top);
        g.lineTo(e, bottom);
      }
      g.stroke();
    }
    if (open) span(open, COLORS.open);

    for (const [level, color] of /** @type {[number, string][]} */ ([[this.threshold, COLORS.threshold], [this.negThreshold, COLORS.negThreshold]])) {
      g.strokeStyle = color;
      g.setLineDash([4, 4]);
      g.beginPath();
      g.moveTo(left, y(level));
      g.lineTo(right, y(level));
      g.stroke();
    }
    g.setLineDash([]);

    const first = Math.max(0, Math.floor((t0 * this.sampleRate) / this.chunkSamples));
    const chunkSeconds = this.chunkSamples / this.sampleRate;
    if (probs.length > first) {
      g.beginPath();
      g.moveTo(x(first * chunkSeconds), y(0));
      for (let i = first; i < probs.length; i++) {
        g.lineTo(x(i * chunkSeconds), y(probs[i]));
        g.lineTo(x((i + 1) * chunkSeconds), y(probs[i]));
      }
      g.lineTo(x(probs.length * chunkSeconds), y(0));
      g.closePath();
      g.fillStyle = COLORS.fill;
      g.fill();
      g.beginPath();
      for (let i = first; i < probs.length; i++) {
        const method = i === first ? 'moveTo' : 'lineTo';
        g[method](x(i * chunkSeconds), y(probs[i]));
        g.lineTo(x((i + 1) * chunkSeconds), y(probs[i]));
      }
      g.strokeStyle = COLORS.line;
      g.lineWidth = 1.5;
      g.stroke();
    }
    g.restore();
  }
}
