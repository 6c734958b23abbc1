#!/usr/bin/env python3
"""Write the ONNX backend node test cases of the pinned onnx package to a local cache.

The cases come from `onnx.backend.test.case.node.collect_testcases()` and are
written in the layout `onnx/backend/test/cmd_tools.py` uses for model cases:
`<name>/model.onnx` and `<name>/test_data_set_N/{input,output}_i.pb`. Every
plain tensor is also written as raw little-endian data next to its .pb
(`input_i.bin`, `output_i.bin`) and described in one `index.json`, so the Rust
and JS conformance harnesses need no protobuf parser.

Usage: python3 scripts/make-node-tests.py [--dir DIR] [--force]
The cache defaults to <repo>/.cache/onnx-node-tests (env ONNXLET_NODE_TESTS_DIR
overrides). Rerunning with a complete cache for the installed onnx is a fast no-op.
"""

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import sys
import time
import warnings
from collections import Counter

from onnxlet_data import (
    CACHE_DIR,
    ONNX_TYPES,
    ensure_cache_gitignore,
    fed_inputs,
    install_hint,
    le_bytes,
    node_tests_dir,
    run,
    write_atomic,
)

# Bump when the written files or the index format change: older caches are rewritten.
GENERATOR_VERSION = 2
PINNED_ONNX = "1.23.2"

EXPANDED_SUFFIX = re.compile(r"_expanded(_ver\d+)?$")


class NodeTestError(Exception):
    pass


def installed_onnx_version():
    try:
        return importlib.metadata.version("onnx")
    except importlib.metadata.PackageNotFoundError:
        raise NodeTestError(f"onnx is not installed; run: {install_hint()}") from None


def pb_path(case_name, dataset, kind, j):
    return f"{case_name}/test_data_set_{dataset}/{kind}_{j}.pb"


def expected_files(index):
    """Every file a complete cache holds for `index`, relative to the cache dir."""
    for case in index["cases"]:
        yield case["model"]
        for d, ds in enumerate(case["datasets"]):
            for kind in ("input", "output"):
                for j, v in enumerate(ds[kind + "s"]):
                    yield pb_path(case["name"], d, kind, j)
                    if "file" in v:
                        yield v["file"]


def load_cached_index(out_dir, onnx_version):
    """The index of a complete cache written by this generator for `onnx_version`, or None."""
    try:
        index = json.loads((out_dir / "index.json").read_text())
    except (OSError, ValueError):
        return None
    try:
        if (
            index.get("generator") != GENERATOR_VERSION
            or index.get("onnx") != onnx_version
            or index.get("count") != len(index["cases"])
        ):
            return None
        if not all((out_dir / rel).is_file() for rel in expected_files(index)):
            return None
    except (KeyError, TypeError):
        return None
    return index


def elem_type_name(elem_type):
    """ONNX element type as in onnxruntime's type strings: float, double, int64, bfloat16, ..."""
    from onnx import TensorProto

    try:
        name = TensorProto.DataType.Name(elem_type)
    except ValueError:
        return f"elem_type_{elem_type}"
    return {"FLOAT": "float", "DOUBLE": "double"}.get(name, name.lower())


def type_string(tp):
    """A TypeProto as an onnxruntime-style string: tensor(float), seq(tensor(int64)), ..."""
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({elem_type_name(tp.tensor_type.elem_type)})"
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({elem_type_name(tp.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({type_string(tp.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({type_string(tp.optional_type.elem_type)})"
    if kind == "map_type":
        m = tp.map_type
        return f"map({elem_type_name(m.key_type)},{type_string(m.value_type)})"
    return "undefined"


def value_proto(value, vi):
    """The protobuf of one input/output value, exactly as cmd_tools.py serialises it."""
    from onnx import TensorProto, numpy_helper

    kind = vi.type.WhichOneof("value")
    if kind == "map_type":
        return numpy_helper.from_dict(value, vi.name)
    if kind == "sequence_type":
        return numpy_helper.from_list(value, vi.name)
    if kind == "optional_type":
        return numpy_helper.from_optional(value, vi.name)
    if kind != "tensor_type":
        raise NodeTestError(f"{vi.name}: unexpected value type {kind}")
    if isinstance(value, TensorProto):
        return value
    return numpy_helper.from_array(value, vi.name)


def write_value(out_dir, case_name, dataset, kind, j, value, vi):
    """Write `<kind>_<j>.pb` (and `.bin` for a plain tensor); return the index entry."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rel = pb_path(case_name, dataset, kind, j)
    write_atomic(out_dir / rel, value_proto(value, vi).SerializeToString())
    if vi.type.WhichOneof("value") != "tensor_type":
        return {"name": vi.name, "unsupported": type_string(vi.type)}
    if isinstance(value, TensorProto):
        elem_type = value.data_type
    else:
        value = np.asarray(value)
        elem_type = helper.np_dtype_to_tensor_dtype(value.dtype)
    declared = vi.type.tensor_type.elem_type
    if elem_type != declared:
        raise NodeTestError(
            f"{case_name}: {kind} {vi.name} holds {elem_type_name(elem_type)}, "
            f"the graph declares {elem_type_name(declared)}"
        )
    # Element types onnxruntime-web has no name for are listed as unsupported.
    if elem_type not in ONNX_TYPES:
        return {"name": vi.name, "unsupported": f"tensor({elem_type_name(elem_type)})"}
    arr = numpy_helper.to_array(value) if isinstance(value, TensorProto) else value
    type_name = ONNX_TYPES[elem_type]
    if (arr.dtype.name if arr.dtype != object else "string") != type_name:
        raise NodeTestError(f"{case_name}: {kind} {vi.name} is numpy {arr.dtype}, expected {type_name}")
    bin_rel = rel[: -len(".pb")] + ".bin"
    write_atomic(out_dir / bin_rel, le_bytes(arr))
    return {"name": vi.name, "type": type_name, "dims": [int(d) for d in arr.shape], "file": bin_rel}


def snake_case(op_type):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", op_type).lower()


def node_by_name(name, nodes):
    """For a multi-node graph, the node whose op_type best matches the test name.

    Prefers the longest op whose snake_case (or lowercased) form prefixes the
    name after `test_`, then the op sharing the longest prefix with the name
    without underscores (`batchnorm` ~ `BatchNormalization`), Constant last.
    """
    rest = name[len("test_"):] if name.startswith("test_") else name
    squashed = rest.replace("_", "")

    def score(node):
        forms = (snake_case(node.op_type), node.op_type.lower())
        exact = max((len(f) for f in forms if rest.startswith(f)), default=-1)
        common = len(os.path.commonprefix([squashed, node.op_type.lower()]))
        return (exact, common, node.op_type != "Constant")

    return max(nodes, key=score)


def opset_for(model, domain):
    onnx_domains = ("", "ai.onnx")
    for o in model.opset_import:
        if o.domain == domain or (domain in onnx_domains and o.domain in onnx_domains):
            return o.version
    return None


def collect_cases():
    import numpy as np
    from onnx.backend.test.case import node

    # Some case generators overflow or divide by zero on purpose.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cases = list(node.collect_testcases())
    names = [c.name for c in cases]
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    if dupes:
        raise NodeTestError(f"duplicate test case names: {', '.join(dupes[:10])}")
    return sorted(cases, key=lambda c: c.name)


def case_ops(cases):
    """(op, domain) of every case by name, and the names needing the name heuristic."""
    ops, heuristic = {}, []
    for case in cases:
        if EXPANDED_SUFFIX.search(case.name):
            continue
        nodes = list(case.model.graph.node)
        if len(nodes) == 1:
            n = nodes[0]
        else:
            n = node_by_name(case.name, nodes)
            heuristic.append(case.name)
        ops[case.name] = (n.op_type, n.domain or "ai.onnx")
    for case in cases:
        if EXPANDED_SUFFIX.search(case.name):
            base = EXPANDED_SUFFIX.sub("", case.name)
            if base not in ops:
                raise NodeTestError(f"{case.name}: no non-expanded case {base}")
            ops[case.name] = ops[base]
    return ops, heuristic


def write_case(out_dir, case, op, domain):
    graph = case.model.graph
    graph_inputs = fed_inputs(graph)
    case_dir = out_dir / case.name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    write_atomic(case_dir / "model.onnx", case.model.SerializeToString())
    datasets = []
    for d, (inputs, outputs) in enumerate(case.data_sets):
        if len(inputs) != len(graph_inputs) or len(outputs) != len(graph.output):
            raise NodeTestError(
                f"{case.name}: data set {d} has {len(inputs)} inputs and {len(outputs)} outputs, "
                f"the graph {len(graph_inputs)} and {len(graph.output)}"
            )
        datasets.append({
            "inputs": [
                write_value(out_dir, case.name, d, "input", j, v, vi)
                for j, (v, vi) in enumerate(zip(inputs, graph_inputs))
            ],
            "outputs": [
                write_value(out_dir, case.name, d, "output", j, v, vi)
                for j, (v, vi) in enumerate(zip(outputs, graph.output))
            ],
        })
    opset = opset_for(case.model, domain)
    if opset is None:
        raise NodeTestError(f"{case.name}: the model imports no opset for domain {domain}")
    return {
        "name": case.name,
        "op": op,
        "domain": domain,
        "opset": opset,
        "expanded": bool(EXPANDED_SUFFIX.search(case.name)),
        "rtol": case.rtol,
        "atol": case.atol,
        "model": f"{case.name}/model.onnx",
        "datasets": datasets,
    }


def remove_stale(out_dir, names):
    """Delete case directories of earlier runs that are not cases any more."""
    removed = 0
    for p in out_dir.iterdir():
        if p.is_dir() and p.name not in names and (p / "model.onnx").exists():
            shutil.rmtree(p)
            removed += 1
    return removed


def index_text(index):
    """The index as JSON with one case per line (small, greppable and diffable)."""
    head = {k: v for k, v in index.items() if k != "cases"}
    lines = ",\n".join(json.dumps(c) for c in index["cases"])
    return json.dumps(head)[:-1] + ', "cases": [\n' + lines + "\n]}\n"


def generate(out_dir, onnx_version):
    try:
        import numpy  # noqa: F401
        import onnx
    except ImportError as e:
        raise NodeTestError(f"missing Python package ({e}); run: {install_hint()}") from None
    if onnx.__version__ != PINNED_ONNX:
        print(
            f"warning: onnx {onnx.__version__} is installed, the test suite is pinned "
            f"to {PINNED_ONNX} (scripts/requirements.txt)",
            file=sys.stderr,
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    # A partial cache must never look complete.
    (out_dir / "index.json").unlink(missing_ok=True)
    cases = collect_cases()
    ops, heuristic = case_ops(cases)
    removed = remove_stale(out_dir, {c.name for c in cases})
    entries = []
    for case in cases:
        op, domain = ops[case.name]
        try:
            entries.append(write_case(out_dir, case, op, domain))
        except NodeTestError:
            raise
        except Exception as e:
            raise NodeTestError(f"{case.name}: {type(e).__name__}: {e}") from e

    written = sum(1 for p in out_dir.iterdir() if (p / "model.onnx").is_file())
    if written != len(cases) or len(entries) != len(cases):
        raise NodeTestError(
            f"collect_testcases() returned {len(cases)} cases, but {written} case directories "
            f"and {len(entries)} index entries exist"
        )
    index = {
        "onnx": onnx_version,
        "generator": GENERATOR_VERSION,
        "count": len(entries),
        "op_by_name_heuristic": heuristic,
        "cases": entries,
    }
    write_atomic(out_dir / "index.json", index_text(index).encode())
    if removed:
        print(f"removed {removed} stale case director{'y' if removed == 1 else 'ies'}")
    return index


def summary(index):
    cases = index["cases"]
    expanded = sum(c["expanded"] for c in cases)
    unsupported = [
        c for c in cases
        if any("unsupported" in v for d in c["datasets"] for v in d["inputs"] + d["outputs"])
    ]
    plain_unsupported = sum(not c["expanded"] for c in unsupported)
    ops = {(c["domain"], c["op"]) for c in cases}
    heuristic = index.get("op_by_name_heuristic", [])
    lines = [
        f"onnx {index['onnx']} node tests: {index['count']} cases "
        f"({len(cases) - expanded} non-expanded, {expanded} expanded)",
        f"  {len(unsupported)} with an unsupported input/output type "
        f"({plain_unsupported} non-expanded)",
        f"  {len(ops)} distinct operators in {len({d for d, _ in ops})} domains",
        f"  {len(heuristic)} multi-node non-expanded case(s) needed the op-by-name heuristic"
        + (f": {', '.join(heuristic)}" if heuristic else ""),
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dir", help="cache directory (default: $ONNXLET_NODE_TESTS_DIR or .cache/onnx-node-tests)"
    )
    parser.add_argument("--force", action="store_true", help="regenerate even if the cache is complete")
    args = parser.parse_args()

    out_dir = node_tests_dir(args.dir).resolve()
    start = time.monotonic()
    onnx_version = installed_onnx_version()
    index = None if args.force else load_cached_index(out_dir, onnx_version)
    status = "cached"
    if index is None:
        if out_dir.is_relative_to(CACHE_DIR):
            ensure_cache_gitignore()
        index = generate(out_dir, onnx_version)
        status = "generated"
    print(summary(index))
    print(f"{out_dir / 'index.json'} ({status}, {time.monotonic() - start:.1f} s)")


if __name__ == "__main__":
    run(main, NodeTestError, "make-node-tests")
