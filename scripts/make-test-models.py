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


def pattern(shape, mul, mod, shift, scale):
    """Deterministic weights that tests/node/gemm.test.mjs rebuilds: ((i * mul) % mod - shift) / scale."""
    i = np.arange(int(np.prod(shape)), dtype=np.int64)
    return (((i * mul) % mod - shift) / scale).astype(np.float32).reshape(shape)


# (name, shape, mul, mod, shift, scale): the constants of gemm_fusions, shared with its test.
GEMM_CONSTANTS = [
    ("W", [67, 53], 7, 17, 8, 8),
    ("Wt", [53, 67], 7, 17, 8, 8),
    ("b", [53], 5, 11, 5, 4),
    ("r", [29, 1], 1, 5, 2, 2),
    ("W2", [130, 66], 3, 13, 6, 16),
    ("b2", [66], 1, 7, 3, 2),
    ("Wc", [5, 3, 3, 3], 5, 9, 4, 4),
    ("bc", [5], 1, 3, 1, 2),
]


def gemm_fusions():
    consts = [
        numpy_helper.from_array(pattern(s, m, d, sh, sc), n) for n, s, m, d, sh, sc in GEMM_CONSTANTS if n != "W"
    ]
    consts += [
        numpy_helper.from_array(np.array(v, dtype=np.float32), n)
        for n, v in [("lo", -1.5), ("hi", 1.5), ("two", 2.0)]
    ]

    # Each product has its own copy of W and its own input (fed the same values): tract does not
    # fuse operations into a product whose operands another product shares.
    w = pattern(*GEMM_CONSTANTS[0][1:])

    def mm(out):
        consts.append(numpy_helper.from_array(w, f"W_{out}"))
        return helper.make_node("MatMul", [f"x_{out}", f"W_{out}"], [out], name=out)

    nodes = [
        mm("mm"),
        mm("mm_b"), helper.make_node("Add", ["mm_b", "b"], ["mm_bias"]),
        helper.make_node("Relu", ["mm_bias"], ["bias_relu"]),
        helper.make_node("Gemm", ["x_gemm", "Wt", "b"], ["gemm"], alpha=0.5, beta=2.0, transB=1),
        helper.make_node("Clip", ["gemm", "lo", "hi"], ["gemm_clip"]),
        mm("mm_l"), helper.make_node("Add", ["mm_l", "b"], ["mm_lb"]),
        helper.make_node("LeakyRelu", ["mm_lb"], ["leaky"], alpha=0.1),
        mm("mm_z"), helper.make_node("Add", ["mm_z", "z"], ["plus_z"]),
        mm("mm_f"), helper.make_node("Sub", ["two", "mm_f"], ["flip"]),
        mm("mm_r"), helper.make_node("Min", ["mm_r", "r"], ["row_min"]),
        mm("mm_c"), helper.make_node("Max", ["mm_c", "b"], ["mm_cmax"]),
        helper.make_node("Mul", ["mm_cmax", "r"], ["col_max_row_mul"]),
        helper.make_node("MatMul", ["xw", "W2"], ["big_mm"]),
        helper.make_node("Add", ["big_mm", "b2"], ["big"]),
        helper.make_node("Conv", ["c", "Wc", "bc"], ["conv_raw"], pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["conv_raw"], ["conv"], alpha=0.2),
        helper.make_node("MatMul", ["ba", "bb"], ["batched"]),
        # n symbolic: tract picks a matrix kernel and a matrix-vector one, and chooses at run time.
        helper.make_node("MatMul", ["xs", "W_sym"], ["sym_mm"]),
        helper.make_node("Add", ["sym_mm", "b"], ["sym"]),
    ]
    consts.append(numpy_helper.from_array(w, "W_sym"))
    f = TensorProto.FLOAT
    return make_model(
        "gemm_fusions",
        nodes,
        [
            *[tensor(f"x_{n}", f, [29, 67]) for n in GEMM_X],
            tensor("z", f, [29, 53]),
            tensor("xw", f, [67, 130]),
            tensor("c", f, [1, 3, 9, 11]),
            tensor("ba", f, [2, 7, 5]),
            tensor("bb", f, [2, 5, 13]),
            tensor("xs", f, ["n", 67]),
        ],
        [tensor(n, f, s) for n, s in GEMM_OUTPUTS],
        consts,
    )


# The products of gemm_fusions that read x (each from an input of its own).
GEMM_X = ["mm", "mm_b", "gemm", "mm_l", "mm_z", "mm_f", "mm_r", "mm_c"]

GEMM_OUTPUTS = [
    ("mm", [29, 53]),
    ("bias_relu", [29, 53]),
    ("gemm_clip", [29, 53]),
    ("leaky", [29, 53]),
    ("plus_z", [29, 53]),
    ("flip", [29, 53]),
    ("row_min", [29, 53]),
    ("col_max_row_mul", [29, 53]),
    ("big", [67, 66]),
    ("conv", [1, 5, 9, 11]),
    ("batched", [2, 7, 13]),
    ("sym", ["n", 53]),
]


def constant_of_shape():
    """Constants made by ConstantOfShape: one over tract's 4 MB folding budget (and reshaped, so
    that the fold of its layout change runs), one small, and one without `value` (float32 zeros)."""
    shapes = [
        numpy_helper.from_array(np.array(v, dtype=np.int64), name)
        for name, v in [("big_shape", [1024, 1, 1100]), ("flat_shape", [1024, 1100]), ("row_shape", [1100]), ("zeros_shape", [2, 3])]
    ]
    half = helper.make_tensor("half", TensorProto.FLOAT, [1], [0.5])
    two = helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])
    return make_model(
        "constant_of_shape",
        [
            helper.make_node("ConstantOfShape", ["big_shape"], ["big"], name="big", value=half),
            helper.make_node("Reshape", ["big", "flat_shape"], ["flat"], name="flat"),
            helper.make_node("ConstantOfShape", ["row_shape"], ["row"], name="row", value=two),
            helper.make_node("Mul", ["x", "flat"], ["scaled"], name="scaled"),
            helper.make_node("Add", ["scaled", "row"], ["y"], name="y"),
            helper.make_node("ConstantOfShape", ["zeros_shape"], ["zeros"], name="zeros"),
        ],
        [tensor("x", TensorProto.FLOAT, [1024, 1100])],
        [tensor("y", TensorProto.FLOAT, [1024, 1100]), tensor("zeros", TensorProto.FLOAT, [2, 3])],
        shapes,
    )


def indices():
    """Index operators fed at run time: an index out of bounds is an error naming it (it was a panic)."""
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    return make_model(
        "indices",
        [
            helper.make_node("Gather", ["data", "gather"], ["gathered"], name="gather_rows", axis=0),
            helper.make_node("GatherElements", ["data", "elements"], ["elements_out"], name="gather_elements", axis=1),
            helper.make_node("GatherND", ["data", "nd"], ["nd_out"], name="gather_nd"),
            helper.make_node("ScatterElements", ["data", "scatter", "updates"], ["scattered"], name="scatter_elements", axis=1),
            helper.make_node("OneHot", ["hot", "depth", "off_on"], ["one_hot"], name="one_hot"),
        ],
        [
            tensor("data", f, [3, 4]),
            tensor("gather", i64, [2]),
            tensor("elements", i64, [3, 1]),
            tensor("nd", i64, [1, 2]),
            tensor("scatter", i64, [3, 1]),
            tensor("updates", f, [3, 1]),
            tensor("hot", i64, [3]),
        ],
        [
            tensor("gathered", f, [2, 4]),
            tensor("elements_out", f, [3, 1]),
            tensor("nd_out", f, [1]),
            tensor("scattered", f, [3, 4]),
            tensor("one_hot", f, [3, 4]),
        ],
        [
            numpy_helper.from_array(np.array(4, dtype=np.int64), "depth"),
            numpy_helper.from_array(np.array([0, 1], dtype=np.float32), "off_on"),
        ],
    )


def arguments():
    """Operator arguments fed at run time that were panics: each bad one is an error naming the node."""
    f, i64, i32 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32
    return make_model(
        "arguments",
        [
            helper.make_node("Compress", ["data", "condition"], ["compressed"], name="compress_rows", axis=0),
            helper.make_node("ReduceSum", ["data", "reduce_axes"], ["reduced"], name="reduce_sum", keepdims=1),
            helper.make_node("Unsqueeze", ["data", "unsqueeze_axes"], ["unsqueezed"], name="unsqueeze_data"),
            helper.make_node("Slice", ["data", "starts", "ends", "slice_axes", "steps"], ["sliced"], name="slice_data"),
            helper.make_node("Pad", ["data", "pads"], ["padded"], name="pad_data"),
            helper.make_node("Div", ["dividend", "divisor"], ["quotient"], name="divide"),
            helper.make_node("Mod", ["dividend", "divisor"], ["remainder"], name="modulo"),
        ],
        [
            tensor("data", f, [3, 4]),
            tensor("condition", TensorProto.BOOL, ["c"]),
            tensor("reduce_axes", i64, [1]),
            tensor("unsqueeze_axes", i64, [1]),
            tensor("starts", i64, [1]),
            tensor("ends", i64, [1]),
            tensor("slice_axes", i64, [1]),
            tensor("steps", i64, [1]),
            tensor("pads", i64, [4]),
            tensor("dividend", i32, [3]),
            tensor("divisor", i32, [3]),
        ],
        [
            tensor("compressed", f, ["r", 4]),
            tensor("reduced", f, ["r0", "r1"]),
            tensor("unsqueezed", f, ["u0", "u1", "u2"]),
            tensor("sliced", f, ["s0", "s1"]),
            tensor("padded", f, ["p0", "p1"]),
            tensor("quotient", i32, [3]),
            tensor("remainder", i32, [3]),
        ],
    )


def tile_repeats():
    """Tile by repeat counts fed at run time, which tract types per input values: a negative one is an error."""
    return make_model(
        "tile_repeats",
        [helper.make_node("Tile", ["data", "repeats"], ["tiled"], name="tile")],
        [tensor("data", TensorProto.FLOAT, [3, 4]), tensor("repeats", TensorProto.INT64, [2])],
        [tensor("tiled", TensorProto.FLOAT, ["rows", "cols"])],
    )


def name_clash():
    """Nodes named like a graph input and an initializer, which ONNX allows (node names and value
    names are separate namespaces): the model is typed once, with its symbolic dimension."""
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    return make_model(
        "name_clash",
        [
            helper.make_node("Gather", ["data", "idx"], ["rows"], name="idx", axis=0),
            helper.make_node("Mul", ["rows", "scale"], ["y"], name="scale"),
        ],
        [tensor("data", f, [3, 4]), tensor("idx", i64, ["n"])],
        # Dimensions left unknown: onnxlet reports the ones tract infers, [n, 4].
        [tensor("y", f, [None, None])],
        [numpy_helper.from_array(np.array(2, dtype=np.float32), "scale")],
    )


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
    "gemm_fusions": gemm_fusions,
    "constant_of_shape": constant_of_shape,
    "indices": indices,
    "tile_repeats": tile_repeats,
    "arguments": arguments,
    "name_clash": name_clash,
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
    "constant_of_shape": lambda: {"x": np.arange(1024 * 1100, dtype=np.float32).reshape(1024, 1100) % 97},
    "dft": lambda: {"x": np.arange(8, dtype=np.float32).reshape(1, 8, 1)},
    "gemm_fusions": lambda: {
        **{
            n: pattern(s, 3 + k, 23, 11, 8)
            for k, (n, s) in enumerate(
                [("x", [29, 67]), ("z", [29, 53]), ("xw", [67, 130]), ("c", [1, 3, 9, 11]), ("ba", [2, 7, 5]), ("bb", [2, 5, 13])]
            )
            if n != "x"
        },
        **{f"x_{n}": pattern([29, 67], 3, 23, 11, 8) for n in GEMM_X},
        "xs": pattern([29, 67], 3, 23, 11, 8),
    },
    "indices": lambda: {
        "data": np.arange(12, dtype=np.float32).reshape(3, 4),
        "gather": np.array([2, -3], dtype=np.int64),
        "elements": np.array([[3], [-1], [0]], dtype=np.int64),
        "nd": np.array([[1, -1]], dtype=np.int64),
        "scatter": np.array([[0], [-1], [2]], dtype=np.int64),
        "updates": np.array([[-1], [-2], [-3]], dtype=np.float32),
        "hot": np.array([1, -1, 9], dtype=np.int64),
    },
    "arguments": lambda: {
        "data": np.arange(12, dtype=np.float32).reshape(3, 4),
        "condition": np.array([True, False, True]),
        "reduce_axes": np.array([1], dtype=np.int64),
        "unsqueeze_axes": np.array([-1], dtype=np.int64),
        "starts": np.array([3], dtype=np.int64),
        "ends": np.array([0], dtype=np.int64),
        "slice_axes": np.array([1], dtype=np.int64),
        "steps": np.array([-2], dtype=np.int64),
        "pads": np.array([0, 1, 0, 2], dtype=np.int64),
        "dividend": np.array([7, -7, 9], dtype=np.int32),
        "divisor": np.array([2, 2, -4], dtype=np.int32),
    },
    "tile_repeats": lambda: {
        "data": np.arange(12, dtype=np.float32).reshape(3, 4),
        "repeats": np.array([1, 2], dtype=np.int64),
    },
    "name_clash": lambda: {
        "data": np.arange(12, dtype=np.float32).reshape(3, 4),
        "idx": np.array([2, 0, -1], dtype=np.int64),
    },
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
