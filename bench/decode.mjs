// Text generation's time per token (issue 30; the decode rows of `npm run bench`), in Node: the
// greedy decode loop of tests/support/decoders.mjs (prefill 8 prompt tokens, then one token at a
// time, feeding `present.*` back as `past_key_values.*`) over optimum's GPT-2 and Llama exports in
// their three layouts (tests/models/decoders/), on onnxlet's default routing (`auto`, which picks
// the lite engine for these), its tract engine and onnxruntime-web (wasm, 1 thread,
// graphOptimizationLevel 'all'). Each runtime runs in its own Node process (with this process's
// V8 flags); each layout decodes `--warmup` times to warm up (4 by default: V8 runs a function on
// its baseline compiler's code until the function has run a while, then compiles it again with
// its optimising compiler, and until every function of a step has been, steps of both runtimes
// now and then take several milliseconds; docs/decode-2026-12-07.md), then once timed. Reported:
// the prefill, the median and the largest of the later steps (ms per token, `session.run` alone),
// and how many later steps took over 3× the median.
//
//   node bench/decode.mjs [--tokens 48] [--warmup 4] [--models gpt2,llama]
//                         [--layouts single,split,merged] [--runtimes onnxruntime-web,auto,tract]
//
// Uses dist/ as built (node scripts/build.mjs). bench/run.mjs calls measureDecode for the report.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { SPIKE, decodeTable } from './report.mjs';
import { LAYOUTS, decodersReference, greedyDecode, openLayout, releaseLayout } from '../tests/support/decoders.mjs';

export const DECODE_RUNTIMES = ['onnxruntime-web', 'auto', 'tract'];

/** Decodes of each layout before the timed one (see above). */
export const DECODE_WARMUP = 4;


const sameTokens = (ids, expected) => {
  const n = Math.min(ids.length, expected.length);
  return ids.slice(0, n).join(',') === expected.slice(0, n).join(',');
};

/** One runtime's rows, measured in this process. */
async function measureHere(runtimeName, { tokens, warmup, models, layouts }) {
  let runtime;
  let options;
  if (runtimeName === 'onnxruntime-web') {
    runtime = await import('onnxruntime-web');
    runtime.env.wasm.numThreads = 1;
    options = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  } else {
    runtime = await import('onnxlet');
    runtime.env.wasm.build = runtimeName;
  }
  const reference = decodersReference();
  const rows = [];
  for (const model of models) {
    const { kv_heads: kvHeads, head_dim: headDim } = reference.models[model];
    for (const layout of layouts) {
      const row = { runtime: runtimeName, model, layout };
      try {
        const sessions = await openLayout(runtime, model, layout, options);
        row.engine = sessions[0].engine ?? 'ort';
        const decode = { prompt: reference.prompt, newTokens: tokens, kvHeads, headDim };
        for (let i = 0; i < warmup; i++) await greedyDecode(runtime, sessions, decode);
        const { times, tokens: ids } = await greedyDecode(runtime, sessions, decode);
        await releaseLayout(sessions);
        const later = times.slice(1);
        const sorted = [...later].sort((a, b) => a - b);
        const median = sorted[sorted.length >> 1];
        Object.assign(row, {
          prefill: times[0],
          median,
          max: sorted.at(-1),
          spikes: later.filter((t) => t > SPIKE * median).length,
          steps: later.length,
          // onnxruntime's (Python) tokens, as far as the reference goes.
          tokensAgree: sameTokens(ids, reference.models[model].tokens),
          times: times.map((t) => Math.round(t * 1000) / 1000),
        });
      } catch (error) {
        row.error = `${error.code ?? ''} ${error.message}`.trim().slice(0, 200);
      }
      rows.push(row);
    }
  }
  return rows;
}

/**
 * The decode rows of every runtime in `runtimes`, each measured in a fresh Node process:
 * `{ runtime, model, layout, engine, prefill, median, max, spikes, steps, times }` or `{ ..., error }`.
 */
export function measureDecode({
  tokens = 48,
  warmup = DECODE_WARMUP,
  models = ['gpt2', 'llama'],
  layouts = Object.keys(LAYOUTS),
  runtimes = DECODE_RUNTIMES,
} = {}) {
  const rows = [];
  for (const runtime of runtimes) {
    const args = ['--tokens', String(tokens), '--warmup', String(warmup), '--models', models.join(','), '--layouts', layouts.join(',')];
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args, '--child', runtime], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.status !== 0) {
      for (const model of models) {
        for (const layout of layouts) rows.push({ runtime, model, layout, error: `its process exited with ${child.status}` });
      }
      continue;
    }
    rows.push(...JSON.parse(child.stdout.trim().split('\n').at(-1)));
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: args } = parseArgs({
    options: {
      tokens: { type: 'string', default: '48' },
      warmup: { type: 'string', default: String(DECODE_WARMUP) },
      models: { type: 'string', default: 'gpt2,llama' },
      layouts: { type: 'string', default: Object.keys(LAYOUTS).join(',') },
      runtimes: { type: 'string', default: DECODE_RUNTIMES.join(',') },
      child: { type: 'string' },
    },
  });
  const options = { tokens: Number(args.tokens), warmup: Number(args.warmup), models: args.models.split(','), layouts: args.layouts.split(',') };
  if (args.child) {
    process.stdout.write(`${JSON.stringify(await measureHere(args.child, options))}\n`);
    process.exit(0);
  }
  const rows = measureDecode({ ...options, runtimes: args.runtimes.split(',') });
  console.log(
    `decode, ${args.tokens} new tokens after an 8-token prompt and ${args.warmup} decodes to warm up, ` +
      `Node ${process.version}${process.execArgv.length ? ` ${process.execArgv.join(' ')}` : ''}, ms per token`,
  );
  console.log(decodeTable(rows));
}
