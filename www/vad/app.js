// "Voice activity, live": silero-vad over the microphone or the bundled WAV, chunk by chunk in a
// worker, with the probability plot, the speech segments and the inference time per chunk.
// The state of the current run is also in `window.__vad` (for the tests and the curious).
import { errorText, h, loadModel, privacyBadge } from '/common/demo.js';
import { ProbabilityPlot } from './plot.js';
import { SpeechSegmenter } from './segmenter.js';
import { CHUNK_SAMPLES, SAMPLE_RATE, SileroVad } from './silero.js';
import { parseWav } from './wav.js';

const BUDGET_MS = (1000 * CHUNK_SAMPLES) / SAMPLE_RATE;
const $ = (id) => document.getElementById(id);

const badge = privacyBadge($('badge'));
const plot = new ProbabilityPlot($('plot'), { sampleRate: SAMPLE_RATE, chunkSamples: CHUNK_SAMPLES });
let vad;
let sample;
/** The run in progress or the last one: see `startRun`. */
let run = null;

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
  document.body.dataset.vadState = state;
  if (window.__vad) window.__vad.state = state;
}

function setButtons(running) {
  $('play-sample').disabled = running || !vad;
  $('mic').disabled = running || !vad;
  $('stop').disabled = !running;
}

const seconds = (samples) => `${(samples / SAMPLE_RATE).toFixed(2)} s`;

function renderSegments() {
  const rows = run.segments.map((s, i) =>
    h('tr', {}, h('td', {}, String(i + 1)), h('td', { className: 'num' }, seconds(s.start)), h('td', { className: 'num' }, seconds(s.end)), h('td', { className: 'num' }, seconds(s.end - s.start))),
  );
  const open = run.segmenter.open;
  if (open) rows.push(h('tr', { className: 'open' }, h('td', {}, '…'), h('td', { className: 'num' }, seconds(open.start)), h('td', { className: 'num' }, 'speaking'), h('td', {})));
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colSpan: 4, className: 'muted' }, run.state === 'done' ? 'No speech found.' : 'No speech yet.')));
  $('segments').tBodies[0].replaceChildren(...rows);
  $('segments').dataset.count = String(run.segments.length);
}

function renderTiming() {
  const n = run.times.length;
  const mean = n ? run.totalMs / n : 0;
  const max = run.maxMs;
  $('chunks').textContent = String(n);
  $('mean-ms').textContent = n ? `${mean.toFixed(2)} ms` : '–';
  $('max-ms').textContent = n ? `${max.toFixed(2)} ms` : '–';
  $('speed').textContent = n ? `${Math.round(BUDGET_MS / mean)}× faster than real time on average` : '–';
  const share = (ms) => `${Math.min(100, (100 * ms) / BUDGET_MS)}%`;
  document.querySelector('.budget-mean').style.width = share(mean);
  document.querySelector('.budget-max').style.width = share(max);
  $('timing').classList.toggle('over', mean > BUDGET_MS);
  Object.assign($('timing').dataset, { count: String(n), mean: mean.toFixed(3), max: max.toFixed(3) });
}

/** Once a run is over, the plot shows all of it, up to a minute. */
const FIT_SECONDS = 60;

function render() {
  const total = (run.probs.length * CHUNK_SAMPLES) / SAMPLE_RATE;
  const whole = run.state === 'done' && total <= FIT_SECONDS;
  plot.update({ probs: run.probs, segments: run.segments, open: run.segmenter.open, seconds: whole ? Math.max(total, 1) : undefined });
  renderSegments();
  renderTiming();
}

/**
 * A run: chunks are queued by the source (the sample's timer or the microphone's worklet) and
 * go through the model one at a time, in order, since each needs the state of the one before.
 */
function startRun(source) {
  vad.reset();
  run = {
    source,
    state: 'running',
    queue: [],
    busy: false,
    inputEnded: false,
    sampleCount: 0,
    probs: [],
    levels: [],
    times: [],
    totalMs: 0,
    maxMs: 0,
    segments: [],
    segmenter: new SpeechSegmenter({ sampleRate: SAMPLE_RATE, chunkSamples: CHUNK_SAMPLES }),
    stopSource: () => {},
  };
  run.segments = run.segmenter.segments;
  window.__vad = { state: 'running', source, probs: run.probs, levels: run.levels, segments: run.segments, times: run.times, sampleCount: 0 };
  setButtons(true);
  render();
  return run;
}

function enqueue(current, chunk, samples = CHUNK_SAMPLES) {
  if (current !== run || current.inputEnded) return;
  current.levels.push(Math.sqrt(chunk.reduce((sum, v) => sum + v * v, 0) / chunk.length));
  current.queue.push(chunk);
  current.sampleCount += samples;
  drain(current);
}

async function drain(current) {
  if (current.busy) return;
  current.busy = true;
  try {
    while (current.queue.length > 0 && current === run) {
      const chunk = current.queue.shift();
      const started = performance.now();
      const prob = await vad.process(chunk);
      const ms = performance.now() - started;
      current.times.push(ms);
      current.totalMs += ms;
      current.maxMs = Math.max(current.maxMs, ms);
      current.probs.push(prob);
      current.segmenter.push(prob);
      render();
    }
  } catch (error) {
    current.stopSource();
    current.state = 'error';
    setStatus('error', errorText(error));
    setButtons(false);
    return;
  } finally {
    current.busy = false;
  }
  if (current.inputEnded && current.queue.length === 0 && current.state === 'running') finish(current);
}

/** The source has no more audio: the segments are final once the queue is empty. */
function endInput(current) {
  if (current.inputEnded) return;
  current.inputEnded = true;
  current.stopSource();
  drain(current);
}

function finish(current) {
  current.state = 'done';
  current.segmenter.finish(current.sampleCount);
  window.__vad.sampleCount = current.sampleCount;
  render();
  const n = current.segments.length;
  setStatus('done', `Done: ${current.probs.length} chunks, ${n} speech segment${n === 1 ? '' : 's'}.`);
  setButtons(false);
}

/** Something this browser or page cannot do, said in plain words. */
class Unavailable extends Error {}

/**
 * The page's one AudioContext, created at load so the worklet module is fetched before the
 * model is ready (nothing is requested after that); it stays suspended until a click resumes it.
 * Null where Web Audio is unavailable: the sample then runs silently on the page's clock.
 */
let audio = null;

async function prepareAudio() {
  try {
    audio = new AudioContext();
  } catch {
    return;
  }
  // AudioWorklet, like the microphone, exists only in secure contexts (HTTPS, localhost).
  await audio.audioWorklet?.addModule(new URL('./mic-worklet.js', import.meta.url));
}

/** Plays the bundled WAV and feeds its chunks as they are heard. */
async function playSample() {
  const current = startRun('sample');
  const { samples } = sample;
  let player = null;
  if (audio) {
    await audio.resume().catch(() => {});
    const buffer = audio.createBuffer(1, samples.length, SAMPLE_RATE);
    buffer.copyToChannel(samples, 0);
    player = audio.createBufferSource();
    player.buffer = buffer;
    player.connect(audio.destination);
  }
  const audioClock = audio?.state === 'running';
  const now = () => (audioClock ? audio.currentTime : performance.now() / 1000);
  const startedAt = now();
  player?.start();
  setStatus('running', 'Playing the sample…');

  const chunks = Math.ceil(samples.length / CHUNK_SAMPLES);
  let fed = 0;
  const timer = setInterval(() => {
    const heard = Math.min(samples.length, Math.floor((now() - startedAt) * SAMPLE_RATE));
    while (fed < chunks && Math.min((fed + 1) * CHUNK_SAMPLES, samples.length) <= heard) {
      const chunk = new Float32Array(CHUNK_SAMPLES);
      const part = samples.subarray(fed * CHUNK_SAMPLES, (fed + 1) * CHUNK_SAMPLES);
      chunk.set(part);
      enqueue(current, chunk, part.length);
      fed++;
    }
    if (fed === chunks) endInput(current);
  }, 10);
  current.stopSource = () => {
    clearInterval(timer);
    player?.stop();
    player?.disconnect();
  };
}

/** Listens to the microphone through the resampling worklet. */
async function listen() {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Unavailable('The microphone needs a secure context (HTTPS, or http://localhost). The sample works anywhere.');
  }
  if (!audio?.audioWorklet) throw new Unavailable('This browser offers no AudioWorklet here, so the microphone cannot be read. The sample works anywhere.');
  const current = startRun('mic');
  setStatus('running', 'Asking for the microphone…');
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  await audio.resume();
  const input = audio.createMediaStreamSource(stream);
  const chunker = new AudioWorkletNode(audio, 'vad-chunker', { processorOptions: { targetRate: SAMPLE_RATE, chunkSamples: CHUNK_SAMPLES } });
  const mute = audio.createGain();
  mute.gain.value = 0;
  input.connect(chunker).connect(mute).connect(audio.destination);
  chunker.port.onmessage = ({ data }) => enqueue(current, data);
  current.stopSource = () => {
    chunker.port.onmessage = null;
    input.disconnect();
    chunker.disconnect();
    mute.disconnect();
    for (const track of stream.getTracks()) track.stop();
  };
  window.__vad.contextRate = audio.sampleRate;
  setStatus('running', `Listening (microphone at ${audio.sampleRate} Hz, resampled to 16 kHz)…`);
}

function fail(error) {
  if (run?.state === 'running') {
    run.stopSource();
    run.state = 'error';
  }
  const text =
    error instanceof Unavailable ? error.message
    : error?.name === 'NotAllowedError' ? 'Microphone permission was denied; the sample works without it.'
    : errorText(error);
  setStatus('error', text);
  setButtons(false);
}

$('play-sample').addEventListener('click', () => playSample().catch(fail));
$('mic').addEventListener('click', () => listen().catch(fail));
$('stop').addEventListener('click', () => {
  if (run?.state === 'running') endInput(run);
});

(async () => {
  try {
    const [session, wav] = await Promise.all([
      loadModel('/models/silero_vad/model.onnx', { progress: $('progress'), label: 'silero-vad 6.2.3 model.onnx' }),
      fetch(new URL('sample.wav', import.meta.url)).then((r) => {
        if (!r.ok) throw new Error(`sample.wav: HTTP ${r.status}`);
        return r.arrayBuffer();
      }),
      prepareAudio(),
    ]);
    vad = new SileroVad(session);
    // The first run of a session prepares its plan for the shapes; do it now rather than on the
    // first chunk the user hears.
    await vad.process(new Float32Array(CHUNK_SAMPLES));
    sample = parseWav(wav);
    if (sample.sampleRate !== SAMPLE_RATE) throw new Error(`sample.wav is at ${sample.sampleRate} Hz, expected ${SAMPLE_RATE}`);
    badge.markReady();
    setButtons(false);
    setStatus('ready', 'Ready: play the sample, or use your microphone.');
  } catch (error) {
    setStatus('error', errorText(error));
  }
})();
