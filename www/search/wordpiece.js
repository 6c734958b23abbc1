// @ts-check
// A WordPiece tokenizer for BERT-style tokenizer.json files (all-MiniLM-L6-v2's among them),
// giving the same ids as Hugging Face `tokenizers`: added tokens split out of the raw text,
// BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing, truncation and padding.
// Character classes come from bert-unicode.js (Unicode 8.0, as `tokenizers` has them); NFD and
// lowercasing use the JavaScript engine's Unicode data.

import { NONSPACING_MARK, OTHER, PUNCTUATION } from './bert-unicode.js';

/**
 * @typedef {object} Encoding
 * @property {number[]} ids token ids
 * @property {string[]} tokens the tokens, `##` marking a word's continuation
 * @property {number[]} typeIds segment of each token (0 for the first sequence, 1 for the pair)
 * @property {number[]} attentionMask 1 for a token, 0 for padding
 * @property {number[]} specialTokensMask 1 for the tokens the post-processor or padding added
 */

/**
 * @typedef {object} EncodeOptions
 * @property {boolean} [addSpecialTokens] add the template's special tokens (default true)
 * @property {boolean} [truncation] apply the file's truncation, if it has one (default true)
 * @property {boolean | number} [padding] `true` applies the file's padding (a fixed length pads
 *   to it; longest-in-batch leaves a single encoding as it is), a number pads to that length
 *   (default false)
 */

/**
 * @typedef {{ id: string, type_id: number }} TemplateSpecial
 * @typedef {{ id: 'A' | 'B', type_id: number }} TemplateSequence
 * @typedef {({ SpecialToken: TemplateSpecial } | { Sequence: TemplateSequence })[]} Template
 */

/**
 * The parts of a tokenizer.json this tokenizer reads.
 * @typedef {object} TokenizerJson
 * @property {{ id: number, content: string, single_word?: boolean, lstrip?: boolean, rstrip?: boolean, normalized?: boolean, special?: boolean }[]} [added_tokens]
 * @property {{ type: string, clean_text?: boolean, handle_chinese_chars?: boolean, strip_accents?: boolean | null, lowercase?: boolean } | null} normalizer
 * @property {{ type: string } | null} pre_tokenizer
 * @property {{ type: string, vocab: Record<string, number>, unk_token: string, continuing_subword_prefix?: string, max_input_chars_per_word?: number }} model
 * @property {{ type: string, single?: Template, pair?: Template, special_tokens?: Record<string, { ids: number[], tokens: string[] }>, sep?: [string, number], cls?: [string, number] } | null} post_processor
 * @property {{ max_length: number, strategy?: string, stride?: number, direction?: string } | null} [truncation]
 * @property {{ strategy: 'BatchLongest' | { Fixed: number }, direction?: string, pad_to_multiple_of?: number | null, pad_id?: number, pad_type_id?: number, pad_token?: string } | null} [padding]
 */

const WHITESPACE = /\p{White_Space}/u;

/**
 * A set of code points from a table of hex ranges (`"300-36f,483"`), tested by binary search.
 * @param {string} table
 * @returns {(cp: number) => boolean}
 */
function charClass(table) {
  const bounds = new Int32Array(table.split(',').flatMap((range) => {
    const [lo, hi = lo] = range.split('-').map((hex) => parseInt(hex, 16));
    return [lo, hi];
  }));
  return (cp) => {
    let low = 0;
    let high = bounds.length / 2 - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (cp < bounds[2 * mid]) high = mid - 1;
      else if (cp > bounds[2 * mid + 1]) low = mid + 1;
      else return true;
    }
    return false;
  };
}

const isOther = charClass(OTHER);
const isNonspacingMark = charClass(NONSPACING_MARK);
const isPunctuation = charClass(PUNCTUATION);

/** The CJK Unified Ideographs blocks BertNormalizer surrounds with spaces. */
const CJK_RANGES = [
  [0x4e00, 0x9fff],
  [0x3400, 0x4dbf],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b920, 0x2ceaf],
  [0xf900, 0xfaff],
  [0x2f800, 0x2fa1f],
];

/** @param {number} cp */
const isCjk = (cp) => CJK_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi);

/** @param {string} ch one code point */
const isWhitespace = (ch) => ch === '\t' || ch === '\n' || ch === '\r' || WHITESPACE.test(ch);


/** @param {unknown} condition @param {string} message @returns {asserts condition} */
function expect(condition, message) {
  if (!condition) throw new TypeError(`tokenizer.json: ${message}`);
}

export class WordPieceTokenizer {
  /** @param {TokenizerJson} json a parsed tokenizer.json */
  constructor(json) {
    const { model, normalizer, pre_tokenizer: preTokenizer, post_processor: postProcessor } = json;
    expect(model?.type === 'WordPiece', `model type ${model?.type}, expected WordPiece`);
    expect(!normalizer || normalizer.type === 'BertNormalizer', `normalizer ${normalizer?.type} is not supported (BertNormalizer is)`);
    expect(!preTokenizer || preTokenizer.type === 'BertPreTokenizer', `pre_tokenizer ${preTokenizer?.type} is not supported (BertPreTokenizer is)`);
    expect(
      !postProcessor || postProcessor.type === 'TemplateProcessing' || postProcessor.type === 'BertProcessing',
      `post_processor ${postProcessor?.type} is not supported (TemplateProcessing and BertProcessing are)`,
    );

    /** @type {Map<string, number>} */
    this.vocab = new Map(Object.entries(model.vocab));
    this.unkToken = model.unk_token;
    expect(this.vocab.has(this.unkToken), `the unk token ${this.unkToken} is not in the vocabulary`);
    this.prefix = model.continuing_subword_prefix ?? '##';
    this.maxInputCharsPerWord = model.max_input_chars_per_word ?? 100;

    this.normalizer = normalizer
      ? {
          cleanText: normalizer.clean_text ?? true,
          chineseChars: normalizer.handle_chinese_chars ?? true,
          lowercase: normalizer.lowercase ?? true,
          stripAccents: normalizer.strip_accents ?? normalizer.lowercase ?? true,
        }
      : null;
    this.preTokenize = preTokenizer ? this.bertPreTokenize : (/** @type {string} */ text) => (text ? [text] : []);

    /** @type {Map<string, number>} */
    this.addedTokens = new Map();
    for (const token of json.added_tokens ?? []) {
      expect(
        !token.single_word && !token.lstrip && !token.rstrip && token.normalized === false,
        `added token ${token.content}: only single_word, lstrip and rstrip false with normalized false are supported`,
      );
      this.addedTokens.set(token.content, token.id);
    }
    this.addedTokenPattern = this.addedTokens.size
      ? new RegExp(
          [...this.addedTokens.keys()]
            .sort((a, b) => b.length - a.length)
            .map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('|'),
          'u',
        )
      : null;

    /** @type {{ single: Template, pair: Template }} */
    this.template = { single: [{ Sequence: { id: 'A', type_id: 0 } }], pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }] };
    /** @type {Record<string, { ids: number[], tokens: string[] }>} */
    this.specialTokens = {};
    if (postProcessor?.type === 'TemplateProcessing') {
      expect(postProcessor.single && postProcessor.pair, 'TemplateProcessing without single or pair');
      this.template = { single: postProcessor.single, pair: postProcessor.pair };
      this.specialTokens = postProcessor.special_tokens ?? {};
    } else if (postProcessor?.type === 'BertProcessing') {
      expect(postProcessor.cls && postProcessor.sep, 'BertProcessing without cls or sep');
      const [cls, clsId] = postProcessor.cls;
      const [sep, sepId] = postProcessor.sep;
      this.specialTokens = { [cls]: { ids: [clsId], tokens: [cls] }, [sep]: { ids: [sepId], tokens: [sep] } };
      const special = (/** @type {string} */ id, /** @type {number} */ typeId) => ({ SpecialToken: { id, type_id: typeId } });
      this.template = {
        single: [special(cls, 0), { Sequence: { id: 'A', type_id: 0 } }, special(sep, 0)],
        pair: [special(cls, 0), { Sequence: { id: 'A', type_id: 0 } }, special(sep, 0), { Sequence: { id: 'B', type_id: 1 } }, special(sep, 1)],
      };
    }

    const truncation = json.truncation;
    this.truncation = truncation
      ? {
          maxLength: truncation.max_length,
          strategy: truncation.strategy ?? 'LongestFirst',
          direction: truncation.direction ?? 'Right',
        }
      : null;
    const padding = json.padding;
    this.padding = padding
      ? {
          fixed: typeof padding.strategy === 'object' ? padding.strategy.Fixed : null,
          left: padding.direction === 'Left',
          multipleOf: padding.pad_to_multiple_of ?? null,
          id: padding.pad_id ?? 0,
          typeId: padding.pad_type_id ?? 0,
          token: padding.pad_token ?? '[PAD]',
        }
      : null;
  }

  /**
   * Fetches and parses a tokenizer.json.
   * @param {string | URL} url
   * @param {RequestInit} [init]
   */
  static async load(url, init) {
    const response = await fetch(url, init);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
    return new WordPieceTokenizer(await response.json());
  }

  /** The vocabulary size. */
  get vocabSize() {
    return this.vocab.size;
  }

  /**
   * BertNormalizer: drops control characters and maps whitespace to spaces, puts spaces around
   * CJK ideographs, strips accents (NFD, then no nonspacing marks) and lowercases, each as
   * configured. Lowercasing is per code point, as in Rust (so a final Σ becomes σ).
   * @param {string} text
   */
  normalize(text) {
    const n = this.normalizer;
    if (!n) return text;
    let out = '';
    for (const ch of text) {
      const cp = /** @type {number} */ (ch.codePointAt(0));
      if (n.cleanText) {
        if (cp === 0 || cp === 0xfffd || isOther(cp)) continue;
        if (isWhitespace(ch)) {
          out += ' ';
          continue;
        }
      }
      out += n.chineseChars && isCjk(cp) ? ` ${ch} ` : ch;
    }
    if (n.stripAccents) {
      let stripped = '';
      for (const ch of out.normalize('NFD')) if (!isNonspacingMark(/** @type {number} */ (ch.codePointAt(0)))) stripped += ch;
      out = stripped;
    }
    if (n.lowercase) {
      let lower = '';
      for (const ch of out) lower += ch.toLowerCase();
      out = lower;
    }
    return out;
  }

  /**
   * BertPreTokenizer: splits on whitespace (dropped) and isolates each punctuation character
   * (ASCII punctuation and the Unicode P* categories).
   * @param {string} text normalized text
   * @returns {string[]}
   */
  bertPreTokenize(text) {
    /** @type {string[]} */
    const words = [];
    let word = '';
    for (const ch of text) {
      if (isWhitespace(ch)) {
        if (word) words.push(word);
        word = '';
      } else if (isPunctuation(/** @type {number} */ (ch.codePointAt(0)))) {
        if (word) words.push(word);
        words.push(ch);
        word = '';
      } else {
        word += ch;
      }
    }
    if (word) words.push(word);
    return words;
  }

  /**
   * WordPiece: greedy longest-match-first, continuation pieces prefixed with `##`; a word longer
   * than max_input_chars_per_word code points, or with a part matching nothing, is the unk token.
   * @param {string} word
   * @returns {string[]}
   */
  wordPiece(word) {
    const chars = Array.from(word);
    if (chars.length > this.maxInputCharsPerWord) return [this.unkToken];
    /** @type {string[]} */
    const pieces = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let piece = null;
      while (start < end) {
        const candidate = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
        if (this.vocab.has(candidate)) {
          piece = candidate;
          break;
        }
        end -= 1;
      }
      if (piece === null) return [this.unkToken];
      pieces.push(piece);
      start = end;
    }
    return pieces;
  }

  /**
   * Tokens of one text without special tokens: the added tokens found verbatim in the raw text,
   * and WordPiece over the normalized, pre-tokenized rest.
   * @param {string} text
   * @returns {{ ids: number[], tokens: string[] }}
   */
  tokenize(text) {
    /** @type {string[]} */
    const tokens = [];
    /** @type {number[]} */
    const ids = [];
    let rest = text;
    while (rest) {
      const match = this.addedTokenPattern?.exec(rest);
      const before = match ? rest.slice(0, match.index) : rest;
      for (const word of this.preTokenize(this.normalize(before))) {
        for (const piece of this.wordPiece(word)) {
          tokens.push(piece);
          ids.push(/** @type {number} */ (this.vocab.get(piece)));
        }
      }
      if (!match) break;
      tokens.push(match[0]);
      ids.push(/** @type {number} */ (this.addedTokens.get(match[0])));
      rest = rest.slice(match.index + match[0].length);
    }
    return { ids, tokens };
  }

  /**
   * Encodes a text (or a pair of texts) as the model expects it.
   * @param {string} text
   * @param {string | null} [pair]
   * @param {EncodeOptions} [options]
   * @returns {Encoding}
   */
  encode(text, pair = null, { addSpecialTokens = true, truncation = true, padding = false } = {}) {
    if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, got ${typeof text}`);
    if (pair !== null && typeof pair !== 'string') throw new TypeError(`encode: pair must be a string or null, got ${typeof pair}`);
    const isPair = pair !== null;
    const first = this.tokenize(text);
    const second = isPair ? this.tokenize(pair) : null;
    const template = isPair ? this.template.pair : this.template.single;
    if (truncation && this.truncation) {
      const added = addSpecialTokens ? this.addedBy(template) : 0;
      this.truncate(first, second, Math.max(0, this.truncation.maxLength - added));
    }

    /** @type {Encoding} */
    const encoding = { ids: [], tokens: [], typeIds: [], attentionMask: [], specialTokensMask: [] };
    const push = (/** @type {number} */ id, /** @type {string} */ token, /** @type {number} */ typeId, /** @type {number} */ special) => {
      encoding.ids.push(id);
      encoding.tokens.push(token);
      encoding.typeIds.push(typeId);
      encoding.attentionMask.push(1);
      encoding.specialTokensMask.push(special);
    };
    if (!addSpecialTokens) {
      for (const [part, typeId] of /** @type {const} */ ([[first, 0], [second, 1]])) {
        part?.ids.forEach((id, i) => push(id, part.tokens[i], typeId, 0));
      }
    } else {
      for (const item of template) {
        if ('Sequence' in item) {
          const part = item.Sequence.id === 'A' ? first : second;
          part?.ids.forEach((id, i) => push(id, part.tokens[i], item.Sequence.type_id, 0));
        } else {
          const special = this.specialTokens[item.SpecialToken.id];
          expect(special, `the template's special token ${item.SpecialToken.id} is not in special_tokens`);
          special.ids.forEach((id, i) => push(id, special.tokens[i], item.SpecialToken.type_id, 1));
        }
      }
    }

    const length = padding === true ? this.paddedLength(encoding.ids.length) : typeof padding === 'number' ? padding : 0;
    if (length > encoding.ids.length) this.pad(encoding, length);
    return encoding;
  }

  /** @param {Template} template how many tokens the template adds */
  addedBy(template) {
    let n = 0;
    for (const item of template) if ('SpecialToken' in item) n += this.specialTokens[item.SpecialToken.id]?.ids.length ?? 0;
    return n;
  }

  /**
   * Truncates the two token lists in place to `maxLength` in all, with the file's strategy.
   * @param {{ ids: number[], tokens: string[] }} first
   * @param {{ ids: number[], tokens: string[] } | null} second
   * @param {number} maxLength
   */
  truncate(first, second, maxLength) {
    const t = /** @type {NonNullable<WordPieceTokenizer['truncation']>} */ (this.truncation);
    const total = first.ids.length + (second?.ids.length ?? 0);
    if (total <= maxLength) return;
    const cut = (/** @type {{ ids: number[], tokens: string[] }} */ part, /** @type {number} */ n) => {
      const keep = (/** @type {any[]} */ list) => (t.direction === 'Left' ? list.slice(list.length - n) : list.slice(0, n));
      if (part.ids.length <= n) return;
      part.ids = keep(part.ids);
      part.tokens = keep(part.tokens);
    };
    if (t.strategy === 'LongestFirst') {
      if (!second) {
        cut(first, maxLength);
        return;
      }
      let n1 = first.ids.length;
      let n2 = second.ids.length;
      const swap = n1 > n2;
      if (swap) [n1, n2] = [n2, n1];
      n2 = n1 > maxLength ? n1 : Math.max(n1, maxLength - n1);
      if (n1 + n2 > maxLength) {
        n1 = Math.floor(maxLength / 2);
        n2 = n1 + (maxLength % 2);
      }
      if (swap) [n1, n2] = [n2, n1];
      cut(first, n1);
      cut(second, n2);
    } else {
      const target = t.strategy === 'OnlyFirst' ? first : second;
      if (!target) throw new Error('truncation: the strategy OnlySecond needs a pair');
      const remove = total - maxLength;
      if (target.ids.length <= remove) throw new Error(`truncation: the sequence is too short to fit in ${maxLength} tokens`);
      cut(target, target.ids.length - remove);
    }
  }

  /** @param {number} length the length `padding: true` pads an encoding of `length` tokens to */
  paddedLength(length) {
    const p = this.padding;
    if (!p) return length;
    let target = p.fixed ?? length;
    if (p.multipleOf && target % p.multipleOf !== 0) target += p.multipleOf - (target % p.multipleOf);
    return target;
  }

  /**
   * Pads an encoding in place to `length` tokens (right unless the file says left).
   * @param {Encoding} encoding
   * @param {number} length
   */
  pad(encoding, length) {
    const p = this.padding ?? { left: false, id: this.vocab.get('[PAD]') ?? 0, typeId: 0, token: '[PAD]' };
    const n = length - encoding.ids.length;
    if (n <= 0) return;
    /** @type {[keyof Encoding, number | string][]} */
    const fills = [['ids', p.id], ['tokens', p.token], ['typeIds', p.typeId], ['attentionMask', 0], ['specialTokensMask', 1]];
    for (const [key, value] of fills) {
      const extra = new Array(n).fill(value);
      /** @type {any} */ (encoding)[key] = p.left ? extra.concat(encoding[key]) : encoding[key].concat(extra);
    }
  }
}
