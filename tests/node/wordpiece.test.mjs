// www/search/wordpiece.js against Hugging Face `tokenizers` on all-MiniLM-L6-v2's tokenizer.json:
// tests/fixtures/wordpiece.json holds what `tokenizers` returns for a corpus of varied texts
// (regenerate with `python3 scripts/make-wordpiece-fixture.py`).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { WordPieceTokenizer } from '../../www/search/wordpiece.js';
import { modelsDir, root } from '../support/models.mjs';

const fixture = JSON.parse(readFileSync(join(root, 'tests', 'fixtures', 'wordpiece.json'), 'utf8'));
const tokenizerPath = join(modelsDir, 'minilm', 'tokenizer.json');
const tokenizerBytes = readFileSync(tokenizerPath);
const tokenizerJson = JSON.parse(tokenizerBytes.toString('utf8'));
const tokenizer = new WordPieceTokenizer(tokenizerJson);

const label = (c) => JSON.stringify(c.pair === undefined ? c.text : [c.text, c.pair]).slice(0, 80);

test('the fixture was made from this tokenizer.json', () => {
  const sha256 = createHash('sha256').update(tokenizerBytes).digest('hex');
  assert.equal(sha256, fixture.tokenizerJsonSha256, `${tokenizerPath} changed: rerun scripts/make-wordpiece-fixture.py`);
  assert.ok(fixture.cases.length >= 100, `only ${fixture.cases.length} cases`);
});

test('same tokens, ids, type ids and masks as tokenizers, for every text of the corpus', () => {
  const failures = [];
  for (const c of fixture.cases) {
    const e = tokenizer.encode(c.text, c.pair ?? null, { padding: c.padded === true });
    for (const key of ['tokens', 'ids', 'typeIds', 'attentionMask', 'specialTokensMask']) {
      try {
        assert.deepEqual(e[key], c[key]);
      } catch {
        failures.push(`${label(c)}: ${key}\n  got      ${JSON.stringify(e[key])}\n  expected ${JSON.stringify(c[key])}`);
        break;
      }
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${fixture.cases.length} cases differ:\n${failures.join('\n')}`);
});

test('the corpus covers what it claims: truncation, padding, [UNK], special tokens, pairs, CJK', () => {
  const all = fixture.cases;
  const max = tokenizerJson.truncation.max_length;
  assert.ok(all.some((c) => !c.padded && c.ids.length === max), 'no case is truncated');
  assert.ok(all.some((c) => c.padded && c.attentionMask.includes(0)), 'no case is padded');
  assert.ok(all.some((c) => c.tokens.includes('[UNK]')), 'no [UNK]');
  assert.ok(all.some((c) => c.tokens.includes('[MASK]')), 'no special token typed in the text');
  assert.ok(all.some((c) => c.typeIds.includes(1)), 'no pair');
  assert.ok(all.some((c) => c.tokens.some((t) => t.startsWith('##'))), 'no continuation piece');
  assert.ok(all.some((c) => c.text === ''), 'no empty text');
  assert.ok(all.some((c) => /[\u4e00-\u9fff]/.test(c.text)), 'no CJK');
});

test('normalization steps: clean text, CJK spacing, accents, per-character lowercase', () => {
  assert.equal(tokenizer.normalize('a\u0000b\u200bc\td\u00a0e'), 'abc d e');
  assert.equal(tokenizer.normalize('我爱'), ' 我  爱 ');
  assert.equal(tokenizer.normalize('Crème ÅNGSTRÖM'), 'creme angstrom');
  assert.equal(tokenizer.normalize('ΟΔΟΣ'), 'οδοσ');
  assert.deepEqual(tokenizer.bertPreTokenize('hello, world!! x'), ['hello', ',', 'world', '!', '!', 'x']);
  assert.deepEqual(tokenizer.wordPiece('unaffable'), ['una', '##ffa', '##ble']);
  assert.deepEqual(tokenizer.wordPiece('a'.repeat(101)), ['[UNK]']);
});

test('the options: without special tokens, without truncation, padded to a length', () => {
  const plain = tokenizer.encode('Hello world', null, { addSpecialTokens: false });
  assert.deepEqual(plain.tokens, ['hello', 'world']);
  const long = 'word '.repeat(300);
  assert.equal(tokenizer.encode(long).ids.length, tokenizerJson.truncation.max_length);
  assert.equal(tokenizer.encode(long, null, { truncation: false }).ids.length, 302);
  const padded = tokenizer.encode('Hello', null, { padding: 6 });
  assert.deepEqual(padded.ids, [101, 7592, 102, 0, 0, 0]);
  assert.deepEqual(padded.attentionMask, [1, 1, 1, 0, 0, 0]);
});

test('clear errors for tokenizer files and inputs it does not handle', () => {
  const withModel = (model) => ({ ...tokenizerJson, model: { ...tokenizerJson.model, ...model } });
  assert.throws(() => new WordPieceTokenizer(withModel({ type: 'BPE' })), /tokenizer\.json: model type BPE, expected WordPiece/);
  assert.throws(
    () => new WordPieceTokenizer({ ...tokenizerJson, normalizer: { type: 'NFKC' } }),
    /normalizer NFKC is not supported \(BertNormalizer is\)/,
  );
  assert.throws(() => new WordPieceTokenizer(withModel({ unk_token: '<unk>' })), /the unk token <unk> is not in the vocabulary/);
  assert.throws(() => tokenizer.encode(42), TypeError);
  assert.throws(() => tokenizer.encode('a', 7), /pair must be a string or null/);
});
