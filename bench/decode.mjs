// Text generation's time per token (issue 30; the "decode" row wanted by issue 29), in Node:
// the greedy decode loop of tests/support/decoders.mjs (prefill 8 prompt tokens, then one token
// at a time, feeding `present.*` back as `past_key_values.*`) over optimum's GPT-2 and Llama
// exports in their three layouts (tests/models/decoders/), on onnxlet's lite and tract engines and
// on onnxruntime-web (wasm, 1 thread, graphOptimizationLevel 'all'). Each runtime and engine runs
// in its own Node process; each layout decodes once to warm up, then once timed. Reported: the
// prefill and the median and the largest of the later steps (ms per token, `session.run` alone).
//
//   node bench/decode.mjs [--tokens 48] [--models gpt2,llama] [--layouts single,split,merged]
//
// Uses dist/ as built (node scripts/build.mjs). Not part of npm test; the numbers depend on the
// machine.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { LAYOUTS, decodersReference, greedyDecode, openLayout, releaseLayout } from '../tests/support/decoders.mjs';

const { values: args } = parseArgs({
  options: {
    tokens: { type: 'string', default: '48' },
    models: { type: 'string', default: 'gpt2,llama' },
    layouts: { type: 'string', default: Object.keys(LAYOUTS).join(',') },
    child: { type: 'string' },
  },
});
const RUNTIMES = ['onnxruntime-web', 'lite', 'tract'];

async function measure(runtimeName) {
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
  for (const model of args.models.split(',')) {
    const { kv_heads: kvHeads, head_dim: headDim } = reference.models[model];
    for (const layout of args.layouts.split(',')) {
      const row = { runtime: runtimeName, model, layout };
      try {
        const sessions = await openLayout(runtime, model, layout, options);
        row.engine = sessions[0].engine ?? 'ort';
        const decode = { prompt: reference.prompt, newTokens: Number(args.tokens), kvHeads, headDim };
        await greedyDecode(runtime, sessions, decode);
        const { times } = await greedyDecode(runtime, sessions, decode);
        await releaseLayout(sessions);
        const later = times.slice(1).sort((a, b) => a - b);
        Object.assign(row, { prefill: times[0], median: later[later.length >> 1], max: later.at(-1) });
      } catch (error) {
        row.error = `${error.code ?? ''} ${error.message}`.slice(0, 200);
      }
      rows.push(row);
    }
  }
  return rows;
}

if (args.child) {
  process.stdout.write(`${JSON.stringify(await measure(args.child))}\n`);
  process.exit(0);
}

const rows = [];
for (const runtime of RUNTIMES) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child', runtime], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.status !== 0) throw new Error(`${runtime}: exited with ${child.status}`);
  rows.push(...JSON.parse(child.stdout.trim().split('\n').at(-1)));
}
const ms = (v) => (v === undefined ? '' : v.toFixed(2));
console.log(`decode, ${args.tokens} new tokens after an 8-token prompt, Node ${process.version}, ms per token`);
console.log('| model | layout | runtime (engine) | prefill | median | max | median vs onnxruntime-web |');
console.log('|---|---|---|---:|---:|---:|---:|');
for (const row of rows) {
  const ort = rows.find((r) => r.runtime === 'onnxruntime-web' && r.model === row.model && r.layout === row.layout);
  const ratio = row.median && ort?.median ? `${(row.median / ort.median).toFixed(2)}×` : '';
  const what = row.runtime === 'onnxruntime-web' ? 'onnxruntime-web' : `onnxlet ${row.runtime} (${row.engine ?? '-'})`;
  if (row.error) console.log(`| ${row.model} | ${row.layout} | ${what} | ${row.error} | | | |`);
  else console.log(`| ${row.model} | ${row.layout} | ${what} | ${ms(row.prefill)} | ${ms(row.median)} | ${ms(row.max)} | ${ratio} |`);
}
