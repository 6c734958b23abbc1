"""onnxlet's WebAssembly component (wasi/wit/onnxlet.wit) from Python, on wasmtime's component API:
numpy arrays in, numpy arrays out.

    runtime = Runtime('onnxlet-component.wasm', model_dirs=['models'])
    session = runtime.load_file('models/model.onnx')      # or runtime.load(model_bytes)
    outputs = session.run({'x': np.ones((1, 4), np.float32)})   # {name: numpy array}

Needs `wasmtime` (PyPI, 51.0.0: `wasmtime.component`) and numpy.
"""

import os

import numpy as np
import wasmtime
import wasmtime.component as wc

INTERFACE = 'onnxlet:runtime/inference@0.1.0'

# The WIT `dtype` cases and numpy's little-endian types (strings are handled apart).
NUMPY = {
    'float32': '<f4', 'float64': '<f8', 'float16': '<f2', 'int8': 'i1', 'uint8': 'u1', 'int16': '<i2',
    'uint16': '<u2', 'int32': '<i4', 'uint32': '<u4', 'int64': '<i8', 'uint64': '<u8', 'bool': '?',
}


class OnnxletError(Exception):
    """An error the component returned: `code` is onnxlet's (e.g. `INVALID_INPUT`), `message` names the problem."""

    def __init__(self, code, message):
        super().__init__(f'{code}: {message}')
        self.code, self.message = code, message


class Runtime:
    """One instance of the component (its own memory); sessions loaded in it share that memory.

    `path`: the component's file; `model_dirs`: host directories the component may read models from
    (`load_file`), read-only.
    """

    def __init__(self, path, engine=None, model_dirs=()):
        self.engine = engine or wasmtime.Engine()
        # Another runtime's `component` (with its `engine`) skips compiling it again.
        self.component = path if isinstance(path, wc.Component) else wc.Component.from_file(self.engine, path)
        linker = wc.Linker(self.engine)
        linker.add_wasip2()  # the component's standard library imports WASI (stderr, clocks, random, files)
        self.store = wasmtime.Store(self.engine)
        wasi = wasmtime.WasiConfig()
        self.model_dirs = [os.path.abspath(d) for d in model_dirs]
        for d in self.model_dirs:
            wasi.preopen_dir(d, d, False)  # the same path inside, so host paths work as they are
        self.store.set_wasi(wasi)
        self.instance = linker.instantiate(self.store, self.component)
        interface = self.instance.get_export_index(self.store, INTERFACE)
        if interface is None:
            raise ValueError(f'{path} does not export {INTERFACE}')
        self._funcs = {
            name: self.instance.get_func(self.store, self.instance.get_export_index(self.store, name, interface))
            for name in ('engine', '[static]session.load', '[static]session.load-file', '[method]session.inputs',
                         '[method]session.outputs', '[method]session.run')
        }

    def _call(self, name, *args):
        func = self._funcs[name]
        result = func(self.store, *args)
        func.post_return(self.store)
        return result

    @property
    def engine_name(self):
        """The engine the component was built with: 'tract' or 'lite'."""
        return self._call('engine')

    def load(self, model, dims=None):
        """Loads a model from its bytes; `dims` pins symbolic dimensions, e.g. {'N': 1}."""
        result = self._call('[static]session.load', bytes(model), list((dims or {}).items()))
        return Session(self, _ok(result))

    def load_file(self, path, dims=None):
        """Loads a model from a file in one of `model_dirs`: the component reads it itself, which is
        much faster than `load` for large models (wasmtime-py passes bytes element by element)."""
        result = self._call('[static]session.load-file', os.path.abspath(path), list((dims or {}).items()))
        return Session(self, _ok(result))


class Session:
    def __init__(self, runtime, handle):
        self._runtime, self._handle = runtime, handle
        self.inputs = [_value_info(v) for v in runtime._call('[method]session.inputs', handle)]
        self.outputs = [_value_info(v) for v in runtime._call('[method]session.outputs', handle)]

    def run(self, feeds):
        """Runs the model on `{input name: array}` and returns `{output name: array}`."""
        pairs = [(name, _tensor(np.asarray(array))) for name, array in feeds.items()]
        result = _ok(self._runtime._call('[method]session.run', self._handle, pairs))
        return {name: _array(t) for name, t in result}

    def close(self):
        """Frees the model in the component's memory (also done when the runtime goes)."""
        if self._handle is not None:
            self._handle.drop(self._runtime.store)
            self._handle = None


def _ok(result):
    # `result<T, error>`: wasmtime returns T, or the error record.
    if isinstance(result, wc.Record):
        raise OnnxletError(result.code.upper().replace('-', '_'), result.message)
    return result


def _value_info(v):
    # A `dim` is an int (fixed), a str (symbolic) or None (unknown).
    return {'name': v.name, 'dtype': v.dtype, 'shape': list(v.shape)}


def _tensor(array):
    record = wc.Record()
    record.shape = [int(d) for d in array.shape]
    if array.dtype.kind in 'US':
        strings = [s.encode('utf-8') if isinstance(s, str) else bytes(s) for s in array.reshape(-1).tolist()]
        record.dtype = 'string'
        record.data = b''.join(len(s).to_bytes(4, 'little') + s for s in strings)
        return record
    names = {np.dtype(v): k for k, v in NUMPY.items()}
    dtype = array.dtype.newbyteorder('<') if array.dtype.byteorder == '>' else array.dtype
    if dtype not in names:
        raise TypeError(f'onnxlet has no tensor type for numpy {array.dtype} (it takes {", ".join(NUMPY)}, strings)')
    record.dtype = names[dtype]
    record.data = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return record


def _array(t):
    if t.dtype == 'string':
        data, strings = t.data, []
        while data:
            n = int.from_bytes(data[:4], 'little')
            strings.append(data[4:4 + n].decode('utf-8'))
            data = data[4 + n:]
        return np.array(strings, dtype=str).reshape(t.shape)
    return np.frombuffer(t.data, dtype=NUMPY[t.dtype]).reshape(t.shape).copy()
