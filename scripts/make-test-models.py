#!/usr/bin/env python3
"""Generate the small ONNX models in tests/models/ (deterministic bytes).

Usage: python3 scripts/make-test-models.py
Needs onnx, onnxruntime and numpy (pip install -r scripts/requirements.txt).
"""

import sys
from pathlib import Path

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    sys.exit(f"missing Python package ({e}); run: python3 -m pip install -r scripts/requirements.txt")

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "models"
OPSET = 13
IR_VERSION = 7  # the IR version that goes with opset 13


def tensor(name, elem_type, shape):
    return helper.make_tensor_value_info(name, elem_type, shape)


def make_model(name, nodes, inputs, outputs, initializers=(), check=True, opset=OPSET, ir_version=IR_VERSION):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(
        graph,
        producer_name="onnxlet-make-test-models",
        producer_version="1",
        opset_imports=[helper.make_opsetid("", opset)],
    )
    model.ir_version = ir_version
    if check:
        onnx.checker.check_model(model, full_check=True)
    return model


def add_dynamic():
    return make_model(
        "add_dynamic",
        [helper.make_node("Add", ["a", "b"], ["sum"], name="add")],
        [tensor("a", TensorProto.FLOAT, ["N", 3]), tensor("b", TensorProto.FLOAT, ["N", 3])],
        [tensor("sum", TensorProto.FLOAT, ["N", 3])],
    )


def matmul_seq():
    w = numpy_helper.from_array((0.1 * np.arange(8, dtype=np.float32)).reshape(4, 2), "W")
    return make_model(
        "matmul_seq",
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul")],
        [tensor("x", TensorProto.FLOAT, ["batch", "seq", 4])],
        [tensor("y", TensorProto.FLOAT, ["batch", "seq", 2])],
        [w],
    )


DTYPES = [
    ("f32", TensorProto.FLOAT, np.float32),
    ("f64", TensorProto.DOUBLE, np.float64),
    ("f16", TensorProto.FLOAT16, np.float16),
    ("i8", TensorProto.INT8, np.int8),
    ("u8", TensorProto.UINT8, np.uint8),
    ("i16", TensorProto.INT16, np.int16),
    ("u16", TensorProto.UINT16, np.uint16),
    ("i32", TensorProto.INT32, np.int32),
    ("u32", TensorProto.UINT32, np.uint32),
    ("i64", TensorProto.INT64, np.int64),
    ("u64", TensorProto.UINT64, np.uint64),
    ("b", TensorProto.BOOL, np.bool_),
    ("s", TensorProto.STRING, np.object_),
]


def all_dtypes():
    return make_model(
        "all_dtypes",
        [helper.make_node("Identity", [n], [f"{n}_out"], name=f"identity_{n}") for n, _, _ in DTYPES],
        [tensor(n, t, [2]) for n, t, _ in DTYPES],
        [tensor(f"{n}_out", t, [2]) for n, t, _ in DTYPES],
    )


def unsupported_op():
    return make_model(
        "unsupported_op",
        [helper.make_node("FrobnicateTensor", ["x"], ["y"], name="weird_node")],
        [tensor("x", TensorProto.FLOAT, [2])],
        [tensor("y", TensorProto.FLOAT, [2])],
        check=False,
    )


def huge_intermediate():
    one = helper.make_tensor("value", TensorProto.FLOAT, [1], [1.0])
    return make_model(
        "huge_intermediate",
        [
            helper.make_node("ConstantOfShape", ["shape"], ["big"], name="fill", value=one),
            helper.make_node("ReduceSum", ["big"], ["total"], name="sum", keepdims=0),
        ],
        [tensor("shape", TensorProto.INT64, [2])],
        [tensor("total", TensorProto.FLOAT, [])],
    )


def huge_declared():
    return make_model(
        "huge_declared",
        [helper.make_node("Identity", ["x"], ["y"], name="identity")],
        [tensor("x", TensorProto.FLOAT, [1_000_000_000, 1_000_000_000])],
        [tensor("y", TensorProto.FLOAT, [1_000_000_000, 1_000_000_000])],
    )


def two_outputs():
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    return make_model(
        "two_outputs",
        [
            helper.make_node("Mul", ["x", "two"], ["doubled"], name="double"),
            helper.make_node("Neg", ["x"], ["negated"], name="negate"),
        ],
        [tensor("x", TensorProto.FLOAT, [2, 2])],
        [tensor("doubled", TensorProto.FLOAT, [2, 2]), tensor("negated", TensorProto.FLOAT, [2, 2])],
        [two],
    )


def dft():
    return make_model(
        "dft",
        [helper.make_node("DFT", ["x"], ["y"], name="dft", axis=1)],
        [tensor("x", TensorProto.FLOAT, [1, 8, 1])],
        [tensor("y", TensorProto.FLOAT, [1, 8, 2])],
        opset=17,
        ir_version=8,
    )


# (output, size, alpha, beta, bias): the common AlexNet/GoogLeNet setting, beta 0.5, a size
# wider than the channels, a general beta (the pow path), and size 1 (onnxruntime rejects even sizes).
LRN_VARIANTS = [
    ("y_s5", 5, 0.5, 0.75, 1.0),
    ("y_s7", 7, 0.3, 0.5, 2.0),
    ("y_s9", 9, 0.1, 0.75, 1.0),
    ("y_pow", 3, 0.2, 0.6, 1.5),
    ("y_s1", 1, 1.0, 1.0, 0.5),
]


def lrn_variants():
    return make_model(
        "lrn_variants",
        [
            helper.make_node("LRN", ["x"], [out], name=out, size=size, alpha=alpha, beta=beta, bias=bias)
            for out, size, alpha, beta, bias in LRN_VARIANTS
        ],
        [tensor("x", TensorProto.FLOAT, [2, 7, 3, 4])],
        [tensor(out, TensorProto.FLOAT, [2, 7, 3, 4]) for out, *_ in LRN_VARIANTS],
    )


def lrn_reference(x, size, alpha, beta, bias):
    """The ONNX LRN formula, in float64, as the oracle of tests/native.rs."""
    x = x.astype(np.float64)
    c = x.shape[1]
    out = np.empty_like(x)
    for i in range(c):
        lo, hi = max(0, i - (size - 1) // 2), min(c - 1, i + size // 2)
        sq = (x[:, lo : hi + 1] ** 2).sum(axis=1)
        out[:, i] = x[:, i] / (bias + alpha / size * sq) ** beta
    return out


MODELS = {
    "add_dynamic": add_dynamic,
    "matmul_seq": matmul_seq,
    "all_dtypes": all_dtypes,
    "unsupported_op": unsupported_op,
    "huge_intermediate": huge_intermediate,
    "huge_declared": huge_declared,
    "two_outputs": two_outputs,
    "dft": dft,
    "lrn_variants": lrn_variants,
}

SAMPLE_FEEDS = {
    "add_dynamic": lambda: {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.full((2, 3), 10, dtype=np.float32),
    },
    "matmul_seq": lambda: {"x": np.arange(24, dtype=np.float32).reshape(2, 3, 4)},
    "all_dtypes": lambda: {
        n: np.array(["", "héllo"] if dt is np.object_ else [1, 0], dtype=dt) for n, _, dt in DTYPES
    },
    "huge_intermediate": lambda: {"shape": np.array([3, 4], dtype=np.int64)},
    "two_outputs": lambda: {"x": np.array([[1, -2], [3.5, 0]], dtype=np.float32)},
    "dft": lambda: {"x": np.arange(8, dtype=np.float32).reshape(1, 8, 1)},
    "lrn_variants": lambda: {
        "x": np.linspace(-3, 3, 168, dtype=np.float32).reshape(2, 7, 3, 4),
    },
}


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, build in MODELS.items():
        data = build().SerializeToString()
        path = OUT_DIR / f"{name}.onnx"
        status = "unchanged" if path.exists() and path.read_bytes() == data else "written"
        if status == "written":
            path.write_bytes(data)
        print(f"{path.relative_to(OUT_DIR.parent.parent)}: {len(data)} bytes ({status})")

        if name in SAMPLE_FEEDS:
            sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
            feeds = SAMPLE_FEEDS[name]()
            outs = sess.run(None, feeds)
            for o, v in zip(sess.get_outputs(), outs):
                flat = np.array2string(v, separator=", ").replace("\n", "")
                print(f"  {o.name}: {v.dtype} {list(v.shape)} {flat}")
            if name == "lrn_variants":
                for (out, size, alpha, beta, bias), got in zip(LRN_VARIANTS, outs):
                    want = lrn_reference(feeds["x"], size, alpha, beta, bias)
                    np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=f"onnxruntime {out}")
            if name == "huge_intermediate" and outs[0] != 12.0:
                sys.exit(f"huge_intermediate: expected 12.0 for shape [3, 4], got {outs[0]}")


if __name__ == "__main__":
    main()
