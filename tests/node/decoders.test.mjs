// Text generation with a KV cache (issue 30): optimum's exports of tiny random GPT-2 and Llama
// (grouped-query attention, rotary embeddings) decoders, in the three layouts decoders are
// published in (tests/models/decoders/, made by scripts/export-decoders.py), through the package
// with the default routing: a greedy decode (prefill, then one token at a time feeding
// `present.*` back as `past_key_values.*`) gives onnxruntime's token ids, and the first two steps'
// logits agree within 1e-3 of the largest. With ONNXLET_BUILD=tract (decoders-tract.test.mjs) the
// tract module runs them.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as onnxlet from 'onnxlet';

import { relativeError } from '../support/compare.mjs';
import { LAYOUTS, decodersReference, greedyDecode, openLayout, releaseLayout } from '../support/decoders.mjs';

const build = process.env.ONNXLET_BUILD ?? 'auto';
onnxlet.env.wasm.build = build;

const reference = decodersReference();
/** The engine each model and layout ran on. */
const engines = {};

test(`${build}: the decoders are GPT-2 and Llama`, () => {
  assert.deepEqual(Object.keys(reference.models).sort(), ['gpt2', 'llama']);
});

for (const [name, model] of Object.entries(reference.models)) {
  for (const layout of Object.keys(LAYOUTS)) {
    test(`${build}: ${name} (${layout}) decodes onnxruntime's tokens`, async () => {
      const sessions = await openLayout(onnxlet, name, layout);
      engines[`${name} ${layout}`] = sessions.map((s) => s.engine).join('/');
      try {
        const { tokens, logits } = await greedyDecode(onnxlet, sessions, {
          prompt: reference.prompt,
          newTokens: reference.new_tokens,
          kvHeads: model.kv_heads,
          headDim: model.head_dim,
        });
        assert.deepEqual(tokens, model.tokens);
        logits.forEach((row, step) => {
          const error = relativeError(row, model.logits[step]);
          assert.ok(error <= 1e-3, `step ${step}: logits off by ${error} of the largest`);
        });
      } finally {
        await releaseLayout(sessions);
      }
    });
  }
}

test(`${build}: each decoder runs on the expected engine`, () => {
  const expected = build === 'auto' ? 'lite/lite' : `${build}/${build}`;
  for (const [key, got] of Object.entries(engines)) assert.equal(got, expected, key);
  assert.equal(Object.keys(engines).length, 6);
});

test(`${build}: a merged decoder's declared attention_mask shape is a hint`, async () => {
  // merge_decoders declares attention_mask as [batch_size, sequence_length], like input_ids,
  // which holds for the first step only; onnxruntime accepts a longer mask, so onnxlet does too.
  const meta = (await openLayout(onnxlet, 'gpt2', 'merged'))[0];
  try {
    const mask = meta.inputMetadata.find((m) => m.name === 'attention_mask');
    const ids = meta.inputMetadata.find((m) => m.name === 'input_ids');
    assert.deepEqual(mask.shape, ids.shape);
  } finally {
    await meta.release();
  }
});
