"""Helpers shared by the scripts that write onnxlet's test data and docs.

The scripts run as `python3 scripts/<name>.py`, so this directory is
`sys.path[0]` and they import this module as a sibling.
"""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".cache"

# ONNX TensorProto.DataType -> onnxruntime-web type name, for the element
# types onnxlet exchanges. Each name is also numpy's dtype name for the type.
ONNX_TYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
}


def cache_dir(name, env, override=None):
    """`override` if given, else $`env` if set, else <repo>/.cache/`name` (unresolved)."""
    return Path(override or os.environ.get(env) or CACHE_DIR / name)


def node_tests_dir(override=None):
    """Where scripts/make-node-tests.py writes the node test cases and their index.json."""
    return cache_dir("onnx-node-tests", "ONNXLET_NODE_TESTS_DIR", override)


def install_hint():
    """The command that installs the scripts' Python requirements."""
    return f"{Path(sys.executable).name} -m pip install -r scripts/requirements.txt"


def write_atomic(path, data):
    """Write the bytes `data` to `path` through a temporary file, creating its directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def ensure_cache_gitignore():
    """Make <repo>/.cache self-ignoring, like .pytest_cache does."""
    gi = CACHE_DIR / ".gitignore"
    if not gi.exists():
        write_atomic(gi, b"*\n")


def le_bytes(arr):
    """The raw little-endian data of a numpy array, as the `.bin` files hold it.

    Strings (an object array of `str` or `bytes`) are onnxlet's wire format: each element's UTF-8
    byte length as a little-endian u32, then its bytes.
    """
    if arr.dtype == object:
        out = bytearray()
        for v in arr.flat:
            b = v.encode() if isinstance(v, str) else bytes(v)
            out += len(b).to_bytes(4, "little") + b
        return bytes(out)
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def fed_inputs(graph):
    """The inputs of an ONNX graph that a caller feeds: those no initializer provides."""
    initialized = {i.name for i in graph.initializer}
    return [i for i in graph.input if i.name not in initialized]


def run(main, error_type, prog):
    """Call `main`; report an `error_type` as `prog: error: ...` and exit 1, Ctrl-C as 130."""
    try:
        main()
    except error_type as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
