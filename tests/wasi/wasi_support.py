"""What tests/wasi's suites share: the model cache, its index, and arrays of every dtype."""

import json
import os

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
MODELS = os.environ.get('ONNXLET_MODELS_DIR', os.path.join(ROOT, '.cache', 'models'))
DIST = os.path.join(ROOT, 'dist', 'wasi')


def read(*path):
    with open(os.path.join(*path), 'rb') as f:
        return f.read()


def index():
    """The real models of scripts/fetch-models.py by name (their inputs, outputs, cases, tolerances)."""
    with open(os.path.join(MODELS, 'index.json'), encoding='utf-8') as f:
        return {m['name']: m for m in json.load(f)['models']}


def case_inputs(model, case):
    """The feeds of one of a model's stored cases, as numpy arrays."""
    return {
        i['name']: np.fromfile(os.path.join(MODELS, i['file']), dtype=i['type']).reshape(i['dims'])
        for i in model['cases'][case]['inputs']
    }


# The inputs of tests/models/all_dtypes.onnx (`<name>_out` = Identity(`<name>`)), with each type's extremes.
ALL_DTYPES = {
    'f32': np.array([1.5, -2], np.float32), 'f64': np.array([1e300, -0.0]), 'f16': np.array([0.5, 65504], np.float16),
    'i8': np.array([-128, 127], np.int8), 'u8': np.array([0, 255], np.uint8),
    'i16': np.array([-32768, 7], np.int16), 'u16': np.array([65535, 1], np.uint16),
    'i32': np.array([-2**31, 5], np.int32), 'u32': np.array([2**32 - 1, 0], np.uint32),
    'i64': np.array([-2**63, 2**62], np.int64), 'u64': np.array([2**64 - 1, 3], np.uint64),
    'b': np.array([True, False]), 's': np.array(['onnx', 'é😀']),
}
