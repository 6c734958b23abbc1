"""Writes tests/fixtures/wordpiece.json: all-MiniLM-L6-v2's tokenizer (the tokenizer.json
that scripts/fetch-models.py puts in .cache/models/minilm/) applied by Hugging Face `tokenizers`
to a corpus of varied texts, for tests/node/wordpiece.test.mjs to compare against
www/search/wordpiece.js.

Each case holds the text (and the pair, if any) and what `Tokenizer.encode` returns with the
file's truncation: ids, tokens, type ids, attention mask, special tokens mask; unpadded, except
the cases marked `padded`, encoded with the file's padding too.

Usage: python3 scripts/make-wordpiece-fixture.py   (needs `pip install tokenizers==0.23.3`)
"""

import hashlib
import json
import os
import pathlib

import tokenizers
from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = pathlib.Path(os.environ.get("ONNXLET_MODELS_DIR", ROOT / ".cache" / "models"))
OUT = ROOT / "tests" / "fixtures" / "wordpiece.json"

LONG_PARAGRAPH = " ".join(
    f"Sentence {i} talks about tokenization, truncation and the {['quick', 'lazy', 'curious'][i % 3]} fox."
    for i in range(40)
)

TEXTS = [
    # Plain English, case and contractions
    "The quick brown fox jumps over the lazy dog.",
    "HELLO WORLD",
    "Hello, World! How are you doing today?",
    "I can't believe it's already 5 o'clock; we're late.",
    "She said: \"Don't touch that!\" and left.",
    "Machine learning models run entirely in your browser.",
    "unbelievably, the unaffordable antidisestablishmentarianism",
    "tokenization WordPiece subwords ##hash prefix",
    "Semantic search ranks documents by meaning, not keywords.",
    "a",
    "A.",
    "x y z",
    # Accents and Latin diacritics
    "Café déjà vu, naïve façade, jalapeño piñata.",
    "Ångström, Øresund, Ærø and Þingvellir.",
    "Straße, Fußball and the capital ẞ.",
    "İstanbul and ıstanbul are Turkish spellings.",
    "Crème brûlée coûte très cher à Paris.",
    "Zażółć gęślą jaźń",
    "Tiếng Việt có dấu: Hà Nội, Đà Nẵng.",
    "decomposed e\u0301 and precomposed \u00e9 agree",
    "ǅemal and ǆ are titlecase digraphs",
    "ﬁnance with the ﬁ ligature, and Ⅻ roman numerals",
    # Greek, Cyrillic, Hebrew, Arabic, Indic, Thai, Georgian, Armenian
    "ΟΔΟΣ and Σίσυφος: a final sigma ς.",
    "Ἀθῆναι with polytonic accents",
    "Привет, мир! Как дела?",
    "Ёлка и ёж",
    "שָׁלוֹם עוֹלָם",
    "مرحبا بالعالم، كيف حالك؟",
    "हिन्दी भाषा में नमस्ते।",
    "বাংলা ভাষা",
    "ภาษาไทยไม่มีช่องว่าง",
    "ქართული ენა",
    "Հայերեն լեզու",
    # CJK and other East Asian scripts
    "我爱北京天安门",
    "今天天气很好，我们去公园吧。",
    "東京は日本の首都です。",
    "カタカナとひらがなと漢字",
    "안녕하세요, 세계!",
    "한국어 텍스트 처리",
    "mixed 中文 and English 混合",
    "rare ideographs 𠀀𠀁 in extension B, 鿯 and 鿰 at the block's end",
    "compatibility ideographs 豈 更 and 丽",
    "full width ＡＢＣ１２３ and half width ｶﾀｶﾅ",
    "CJK punctuation 「引用」『二重』、。・",
    # Emoji and symbols
    "I love 🍕 and 🎉!",
    "Family: 👨‍👩‍👧‍👦, thumbs 👍🏽, flag 🇫🇷",
    "heart ❤️ with a variation selector",
    "newer emoji 🫠 🥲 🧿",
    "😀😀😀😀😀😀😀😀😀😀",
    "math ∑ ∫ √ ∞ ≠ ≤ ≥ ± × ÷",
    "arrows → ← ↑ ↓ ⇒ and boxes ■□▲",
    "currencies € £ ¥ ₹ ₿ and $ 100",
    "© 2024 Example™ ® °C ‰ § ¶",
    "fractions ½ ¼ ¾ and powers x² y³",
    # Punctuation
    "Wait... what?!?! No way!!!",
    "em dash — en dash – hyphen - minus −",
    "“curly quotes” ‘single’ «guillemets» „German“",
    "¿Qué pasa? ¡Vamos!",
    "(parentheses) [brackets] {braces} <angles>",
    "a_b-c/d\\e|f~g^h`i",
    "C++ & C# vs. F# @ 50% off; 3 * 4 = 12",
    "@username #hashtag $TICKER %percent &amp;",
    "semi;colon:colon,comma.period",
    "ellipsis… bullet • dagger † double‡ prime ′",
    "rare punctuation a⸃b c⸮d e⹀f, and newer g⹃h i⹏j",
    # Numbers, dates, identifiers
    "3.14159 is pi, e is 2.71828",
    "1,000,000 people and 12,345.67 dollars",
    "2024-01-15T12:30:00Z",
    "Call +1 (555) 123-4567 before 9:30pm",
    "version 1.2.3-beta.4+build.567",
    "Arabic-Indic digits ٠١٢٣٤٥ and Devanagari ०१२३",
    "0x1F600 is hex, 0b1010 is binary, 1e-9 is small",
    "IPv4 192.168.0.1 and IPv6 2001:db8::ff00:42:8329",
    # URLs, paths, code
    "https://example.com/path/to/page?query=1&other=two#fragment",
    "Visit www.onnxlet.dev or http://localhost:8080/search/",
    "user.name+tag@example.co.uk wrote to admin@site.org",
    "C:\\Users\\Public\\Documents\\file.txt",
    "/usr/local/bin/python3 -m pip install --upgrade pip",
    "const x = arr.map((v) => v * 2).filter(Boolean);",
    "SELECT * FROM users WHERE id = 42;",
    "<div class=\"card\">Hello</div>",
    "snake_case_identifier and camelCaseIdentifier and kebab-case-id",
    # Long words and max_input_chars_per_word
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "Donaudampfschifffahrtsgesellschaftskapitänsmütze",
    "supercalifragilisticexpialidocious",
    "a" * 99,
    "a" * 100,
    "a" * 101,
    "b" * 100 + " short",
    "é" * 100,
    "e\u0301" * 100,
    "x" * 250 + " after a very long word",
    "abc" * 40,
    "😀" * 60,
    # Empty, whitespace and control characters
    "",
    " ",
    "   \t\n  ",
    "hello     world\t\t\tagain\n\nnew line\r\nwindows",
    "non\u00a0breaking\u2009thin\u3000ideographic\u202fnarrow",
    "line\u2028separator\u2029paragraph\u0085next",
    "null\u0000char and bell\u0007 and escape\u001b[0m",
    "delete\u007f and c1\u0080\u009f controls",
    "zero\u200bwidth space, zero\u200cwidth non joiner, zero\u200dwidth joiner",
    "soft\u00adhyphen and byte\ufefforder mark",
    "replacement \ufffd character",
    "private use \ue000\uf8ff and unassigned \u0378",
    "bidi \u202aembedding\u202c and isolate \u2066x\u2069",
    "vertical\u000btab and form\u000cfeed",
    "\u001c\u001d\u001e\u001f separators",
    # Special tokens in the text
    "Hello [MASK] world",
    "[CLS] starts and [SEP] ends",
    "a[SEP]b[UNK]c",
    "[mask] in lowercase is not special",
    "[PAD][PAD] padding tokens typed in",
    "[CLS",
    # Marks that the Unicode version decides on
    "Malayalam \u0d00 candrabindu above and Devanagari \u0900",
    "Arabic \u08d4 small high word and \u061d end of text",
    # Long inputs for truncation
    LONG_PARAGRAPH,
    "word " * 200,
    "🍕 " * 150,
]

PAIRS = [
    ("What is the capital of France?", "Paris is the capital and largest city of France."),
    ("short", LONG_PARAGRAPH),
    (LONG_PARAGRAPH, "short"),
    (LONG_PARAGRAPH, LONG_PARAGRAPH),
    ("word " * 70, "word " * 70),
    ("", "only the second"),
    ("Hello [MASK]", "[SEP] inside"),
]

PADDED = [
    "The quick brown fox jumps over the lazy dog.",
    "",
    "我爱北京天安门",
    LONG_PARAGRAPH,
]


def case(tokenizer, text, pair=None):
    e = tokenizer.encode(text, pair)
    out = {"text": text}
    if pair is not None:
        out["pair"] = pair
    out.update(
        ids=e.ids,
        tokens=e.tokens,
        typeIds=e.type_ids,
        attentionMask=e.attention_mask,
        specialTokensMask=e.special_tokens_mask,
    )
    return out


def main():
    path = MODELS / "minilm" / "tokenizer.json"
    data = path.read_bytes()
    padded = Tokenizer.from_str(data.decode())
    unpadded = Tokenizer.from_str(data.decode())
    unpadded.no_padding()
    cases = [case(unpadded, t) for t in TEXTS]
    cases += [case(unpadded, a, b) for a, b in PAIRS]
    cases += [{**case(padded, t), "padded": True} for t in PADDED]
    fixture = {
        "source": "scripts/make-wordpiece-fixture.py",
        "tokenizers": tokenizers.__version__,
        "tokenizerJsonSha256": hashlib.sha256(data).hexdigest(),
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps({k: v for k, v in fixture.items() if k != "cases"}, ensure_ascii=False)[:-1]
    lines = ",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases)
    OUT.write_text(f'{header}, "cases": [\n{lines}\n]}}\n')
    print(f"wrote {OUT.relative_to(ROOT)}: {len(cases)} cases, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
