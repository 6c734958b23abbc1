"""Reference for the semantic search demo: all-MiniLM-L6-v2 embeddings with onnxruntime and the
`tokenizers` package (the model's tokenizer.json, its truncation, no padding: one text per run),
mean pooling over the attention mask and L2 normalisation as sentence-transformers does, and the
cosine similarity of each query with each document.

Usage: python3 tests/support/search_reference.py MODEL_DIR < { "documents": [...], "queries": [...] }
  → { "scores": [[score of document d for query q, ...] for each query] } on stdout
"""

import json
import pathlib
import sys

import numpy as np
import onnxruntime as ort

try:
    from tokenizers import Tokenizer
except ImportError:
    raise SystemExit("the search reference needs `tokenizers`: pip install tokenizers==0.23.3") from None


def embed(session, tokenizer, text):
    e = tokenizer.encode(text)
    feeds = {
        "input_ids": np.array([e.ids], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids], dtype=np.int64),
    }
    (hidden,) = session.run(["last_hidden_state"], feeds)
    mask = feeds["attention_mask"][0].astype(np.float64)[:, None]
    mean = (hidden[0].astype(np.float64) * mask).sum(axis=0) / max(mask.sum(), 1e-9)
    return mean / max(np.linalg.norm(mean), 1e-12)


def main():
    model_dir = pathlib.Path(sys.argv[1])
    request = json.load(sys.stdin)
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    documents = np.stack([embed(session, tokenizer, d) for d in request["documents"]])
    scores = [(documents @ embed(session, tokenizer, q)).tolist() for q in request["queries"]]
    json.dump({"scores": scores}, sys.stdout)


if __name__ == "__main__":
    main()
