#!/usr/bin/env python3
"""Export tiny randomly initialised text-generation decoders with optimum, once (issue 30).

Transformer decoders as optimum exports them (`--task text-generation-with-past`) are the main
workload of transformers.js: a greedy decode loop feeds each step's `present.*` back as the
next step's `past_key_values.*`. This script makes two such decoders from fixed-seed random
weights, small enough to commit (tests/models/decoders/, each file well under 1 MB):

  gpt2   GPT-2: learned positions, LayerNorm, fused QKV (Conv1D), GELU
  llama  Llama with grouped-query attention (num_key_value_heads < num_attention_heads),
         rotary embeddings, RMSNorm, SwiGLU

each in the three layouts decoders are published in:

  model.onnx                  one file with past (optimum-onnx's default; the first step feeds an
                              empty past)
  decoder_model.onnx          the first step (no past inputs, `present.*` outputs) and
  decoder_with_past_model.onnx  every later step
  decoder_model_merged.onnx   both in one file, an `If` on `use_cache_branch`
                              (optimum.onnx.merge_decoders, the layout of many transformers.js
                              models)

and next to them `reference.json`: onnxruntime's greedy decode of a fixed prompt through each
layout (the token ids, identical across layouts) and the logits of the first two steps (the
prompt's last position, then the first generated token's).

torch is too big for CI, so the exported files are committed and this script is run by hand.
It installs what it needs into a throwaway venv (`--venv`, default /tmp/onnxlet-export-decoders)
and re-runs itself there; the project's requirements.txt is not involved.

Usage: python3 scripts/export-decoders.py [--out tests/models/decoders] [--venv DIR]
"""

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The versions this was run with (pip resolves the rest). optimum-onnx 0.1 writes a single
# model.onnx for text-generation-with-past; the two-file layout is asked for with optimum's own
# ONNX configs (use_past_in_inputs False, then True), and merged with its merge_decoders.
PINS = [
    "torch==2.15.0",
    "transformers==4.57.6",
    "optimum==2.1.0",
    "optimum-onnx==0.1.0",
    "onnx==1.23.2",
    "onnxruntime==1.32.0",
]
SEED = 0
PROMPT = [3, 14, 15, 92, 65, 35, 89, 79]
NEW_TOKENS = 16
# optimum's default opset for these architectures (18).
OPSET = None
# Wider random weights than transformers' 0.02, so that the greedy choice is clear at every step
# (the smallest gap between the best and the second logit is checked below) and the decode does
# not repeat one token.
INIT_RANGE = 0.3
# The smallest allowed gap between the best and the second-best logit, relative to the largest
# |logit|: the tests' tolerance, a thousand times float32 engines' real differences (~1e-6), so
# that an engine that agrees on the logits picks the same tokens.
MIN_GAP = 1e-3


def configs():
    from transformers import GPT2Config, LlamaConfig

    common = {"vocab_size": 256, "bos_token_id": 0, "eos_token_id": 0, "initializer_range": INIT_RANGE}
    return {
        "gpt2": GPT2Config(n_positions=64, n_embd=32, n_layer=2, n_head=4, **common),
        "llama": LlamaConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            rope_theta=10000.0,
            pad_token_id=0,
            **common,
        ),
    }


def ensure_venv(venv):
    """Re-run this script in `venv` (made and filled with PINS if needed) unless already there."""
    if os.environ.get("ONNXLET_EXPORT_DECODERS_VENV") == str(venv):
        return
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = subprocess.run(
        [str(python), "-c", "import torch, transformers, optimum.exporters.onnx, onnxruntime"],
        capture_output=True,
    )
    if check.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PINS], check=True)
    env = {**os.environ, "ONNXLET_EXPORT_DECODERS_VENV": str(venv)}
    sys.exit(subprocess.run([str(python), __file__, *sys.argv[1:]], env=env).returncode)


def export(name, config, out):
    import torch
    from optimum.exporters.onnx import export_models, onnx_export_from_model
    from optimum.exporters.tasks import TasksManager
    from optimum.onnx import merge_decoders
    from transformers import AutoModelForCausalLM

    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(config).eval()
    out.mkdir(parents=True, exist_ok=True)
    task = "text-generation-with-past"
    # One file with past.
    onnx_export_from_model(model, out, task=task, opset=OPSET, do_validation=False)
    # The two-file layout, as optimum 1.x wrote it before its single-file default.
    constructor = TasksManager.get_exporter_config_constructor(exporter="onnx", model=model, task=task)
    export_models(
        {
            "decoder_model": (model, constructor(model.config, task="text-generation", use_past=True, use_past_in_inputs=False)),
            "decoder_with_past_model": (model, constructor(model.config, task="text-generation", use_past=True, use_past_in_inputs=True)),
        },
        out,
        opset=OPSET,
    )
    merge_decoders(
        out / "decoder_model.onnx",
        out / "decoder_with_past_model.onnx",
        save_path=out / "decoder_model_merged.onnx",
    )
    for extra in out.iterdir():
        if extra.suffix != ".onnx":
            extra.unlink()


def greedy(out, layout, kv_heads, head_dim):
    """onnxruntime's greedy decode of PROMPT in one layout: the token ids and two steps' logits."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    first_file, next_file = {
        "single": ("model.onnx", "model.onnx"),
        "split": ("decoder_model.onnx", "decoder_with_past_model.onnx"),
        "merged": ("decoder_model_merged.onnx", "decoder_model_merged.onnx"),
    }[layout]
    first = ort.InferenceSession(str(out / first_file), options)
    later = first if next_file == first_file else ort.InferenceSession(str(out / next_file), options)
    past = None
    tokens = list(PROMPT)
    feed_ids = list(PROMPT)
    logits_steps = []
    gaps = []
    for step in range(NEW_TOKENS):
        session = first if step == 0 else later
        names = [i.name for i in session.get_inputs()]
        past_len = 0 if past is None else next(iter(past.values())).shape[2]
        n = len(feed_ids)
        feeds = {"input_ids": np.array([feed_ids], dtype=np.int64)}
        if "attention_mask" in names:
            feeds["attention_mask"] = np.ones((1, past_len + n), dtype=np.int64)
        if "position_ids" in names:
            feeds["position_ids"] = np.arange(past_len, past_len + n, dtype=np.int64)[None]
        if "use_cache_branch" in names:
            feeds["use_cache_branch"] = np.array([past is not None])
        for name in names:
            if name.startswith("past_key_values."):
                key = name.replace("past_key_values.", "present.")
                feeds[name] = past[key] if past is not None else np.zeros((1, kv_heads, 0, head_dim), np.float32)
        output_names = [o.name for o in session.get_outputs()]
        values = dict(zip(output_names, session.run(None, feeds)))
        last = values["logits"][0, -1]
        if step < 2:
            logits_steps.append([float(v) for v in last])
        token = int(np.argmax(last))
        top2 = np.sort(last)[-2:]
        gaps.append(float((top2[1] - top2[0]) / np.abs(last).max()))
        tokens.append(token)
        feed_ids = [token]
        past = {k: v for k, v in values.items() if k.startswith("present.")}
    return tokens[len(PROMPT) :], logits_steps, min(gaps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "models" / "decoders")
    parser.add_argument("--venv", type=Path, default=Path("/tmp/onnxlet-export-decoders"))
    args = parser.parse_args()
    ensure_venv(args.venv.resolve())

    import onnxruntime
    import optimum.version
    import torch
    import transformers

    reference = {
        "generator": "scripts/export-decoders.py",
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "optimum": optimum.version.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "seed": SEED,
        "prompt": PROMPT,
        "new_tokens": NEW_TOKENS,
        "models": {},
    }
    for name, config in configs().items():
        out = args.out / name
        export(name, config, out)
        heads = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = config.hidden_size // heads
        layouts = {}
        for layout in ("single", "split", "merged"):
            tokens, logits, gap = greedy(out, layout, kv_heads, head_dim)
            if gap < MIN_GAP:
                raise SystemExit(f"{name} {layout}: a greedy choice by a relative gap of {gap:.2g} only")
            layouts[layout] = {"tokens": tokens, "logits": logits}
        tokens = layouts["single"]["tokens"]
        logits = layouts["single"]["logits"]
        for layout, result in layouts.items():
            if result["tokens"] != tokens:
                raise SystemExit(f"{name}: onnxruntime's {layout} layout decodes {result['tokens']}, single {tokens}")
            for a, b in zip(result["logits"], logits):
                error = max(abs(x - y) for x, y in zip(a, b)) / max(abs(y) for y in b)
                if error > 1e-5:
                    raise SystemExit(f"{name}: onnxruntime's {layout} logits differ from single's by {error:.2g}")
        reference["models"][name] = {
            "config": {k: v for k, v in config.to_diff_dict().items() if isinstance(v, (int, float, str, bool))},
            "num_layers": config.num_hidden_layers,
            "kv_heads": kv_heads,
            "head_dim": head_dim,
            "tokens": tokens,
            # The logits of the prompt's last position and of the first new token's (the same in
            # every layout within 1e-5 relative), to 7 significant digits.
            "logits": [[float(f"{v:.7g}") for v in step] for step in logits],
        }
        sizes = {f.name: f.stat().st_size for f in sorted(out.glob("*.onnx"))}
        print(f"{name}: {tokens} {sizes}")
    # Lists of numbers on one line each.
    text = re.sub(r"\[[-0-9.e+,\s]*\]", lambda m: json.dumps(json.loads(m.group(0))), json.dumps(reference, indent=1))
    (args.out / "reference.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
