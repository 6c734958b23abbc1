// @ts-check
// Sentence embeddings as sentence-transformers computes them for all-MiniLM-L6-v2: the
// encoder's last_hidden_state, averaged over the tokens the attention mask keeps, then scaled to
// unit length, so that the cosine similarity of two embeddings is their dot product.
import { Tensor } from '/dist/onnxlet.mjs';

/**
 * Mean of the token vectors where `mask` is 1, L2-normalized (the norm clamped at 1e-12, as
 * torch.nn.functional.normalize does).
 * @param {Float32Array} hidden [tokens, dims] row-major
 * @param {ArrayLike<number>} mask one 0/1 per token
 * @param {number} dims
 */
export function meanPool(hidden, mask, dims) {
  const sum = new Float64Array(dims);
  let count = 0;
  for (let t = 0; t < mask.length; t++) {
    if (!mask[t]) continue;
    count++;
    const row = t * dims;
    for (let d = 0; d < dims; d++) sum[d] += hidden[row + d];
  }
  const mean = sum.map((v) => v / Math.max(count, 1e-9));
  const norm = Math.sqrt(mean.reduce((acc, v) => acc + v * v, 0));
  return Float32Array.from(mean, (v) => v / Math.max(norm, 1e-12));
}

/** @param {ArrayLike<number>} a @param {ArrayLike<number>} b */
export function dot(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

export class SentenceEncoder {
  /**
   * @param {import('/dist/index.d.ts').InferenceSession} session all-MiniLM-L6-v2 model.onnx
   * @param {import('./wordpiece.js').WordPieceTokenizer} tokenizer its tokenizer.json
   */
  constructor(session, tokenizer) {
    for (const name of ['input_ids', 'attention_mask', 'token_type_ids']) {
      if (!session.inputNames.includes(name)) throw new Error(`the model has no input "${name}" (inputs: ${session.inputNames.join(', ')})`);
    }
    if (!session.outputNames.includes('last_hidden_state')) {
      throw new Error(`the model has no output "last_hidden_state" (outputs: ${session.outputNames.join(', ')})`);
    }
    this.session = session;
    this.tokenizer = tokenizer;
  }

  /**
   * The unit-length embedding of `text`, and its token count.
   * @param {string} text
   * @returns {Promise<{ embedding: Float32Array, tokens: number }>}
   */
  async embed(text) {
    const { ids, attentionMask, typeIds } = this.tokenizer.encode(text);
    const dims = [1, ids.length];
    const int64 = (/** @type {number[]} */ values) => new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
    const outputs = await this.session.run(
      { input_ids: int64(ids), attention_mask: int64(attentionMask), token_type_ids: int64(typeIds) },
      ['last_hidden_state'],
    );
    const hidden = outputs.last_hidden_state;
    const width = /** @type {number} */ (hidden.dims[2]);
    return { embedding: meanPool(/** @type {Float32Array} */ (hidden.data), attentionMask, width), tokens: ids.length };
  }
}
