#!/usr/bin/env python3
"""One-operator models for bench/kernel-gap.mjs, written to .cache/bench/kernels/ (git-ignored).

- matmul.onnx: x[128, 384] @ W[384, 1536], MiniLM's feed-forward product at sequence length 128.
- conv.onnx: a 3x3 convolution, 64 to 64 channels on 56x56 with padding 1, as in ResNet's first
  stage.
Weights are seeded, so both runtimes and every run see the same model.
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / ".cache" / "bench" / "kernels"


def model(name, node, inputs, outputs, weights):
    graph = helper.make_graph([node], name, inputs, outputs, initializer=weights)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="onnxlet-bench")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def main():
    rng = np.random.default_rng(7)
    OUT.mkdir(parents=True, exist_ok=True)
    w = numpy_helper.from_array(rng.standard_normal((384, 1536), dtype=np.float32) * 0.05, "W")
    matmul = model(
        "matmul",
        helper.make_node("MatMul", ["x", "W"], ["y"]),
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [128, 384])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [128, 1536])],
        [w],
    )
    k = numpy_helper.from_array(rng.standard_normal((64, 64, 3, 3), dtype=np.float32) * 0.05, "K")
    conv = model(
        "conv",
        helper.make_node("Conv", ["x", "K"], ["y"], pads=[1, 1, 1, 1]),
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 56, 56])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, 56, 56])],
        [k],
    )
    for name, m in (("matmul", matmul), ("conv", conv)):
        path = OUT / f"{name}.onnx"
        path.write_bytes(m.SerializeToString())
        print(path)


if __name__ == "__main__":
    main()
