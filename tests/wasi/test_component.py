"""The WebAssembly components (dist/wasi/onnxlet-component.wasm on tract, and
onnxlet-component-lite.wasm on the lite engine; wasi/component) from Python through wasmtime's
component API, with examples/python-wasmtime's wrapper: numpy arrays in and out, checked against
onnxruntime on the real models; and the example's command line.

    python3 -m unittest discover -s tests/wasi -v     (npm test runs it after the build)
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

from wasi_support import ALL_DTYPES, DIST, MODELS, ROOT, case_inputs, index, read

EXAMPLE = os.path.join(ROOT, 'examples', 'python-wasmtime')
sys.path.insert(0, EXAMPLE)
from onnxlet_component import OnnxletError, Runtime  # noqa: E402

class ComponentTest(unittest.TestCase):
    """The tract component; LiteComponentTest runs the same tests on the lite one."""

    COMPONENT = os.path.join(DIST, 'onnxlet-component.wasm')
    ENGINE = 'tract'

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(cls.COMPONENT):
            raise FileNotFoundError(f'{cls.COMPONENT} is missing: run `node scripts/build.mjs --module wasi`')
        cls.runtime = Runtime(cls.COMPONENT)

    def check_model(self, name):
        model = index()[name]
        session = self.runtime.load(read(MODELS, model['file']))
        self.assertEqual([(i['name'], i['dtype']) for i in session.inputs],
                         [(i['name'], i['type']) for i in model['inputs']])
        self.assertEqual([(o['name'], o['dtype'], o['shape']) for o in session.outputs],
                         [(o['name'], o['type'], o['shape']) for o in model['outputs']])
        reference = ort.InferenceSession(os.path.join(MODELS, model['file']), providers=['CPUExecutionProvider'])
        for case in range(len(model['cases'])):
            feeds = case_inputs(model, case)
            got = session.run(feeds)
            want = dict(zip([o.name for o in reference.get_outputs()], reference.run(None, feeds)))
            self.assertEqual(list(got), list(want))
            for key in want:
                self.assertEqual((got[key].dtype, got[key].shape), (want[key].dtype, want[key].shape))
                np.testing.assert_allclose(got[key], want[key], rtol=model['rtol'], atol=model['atol'])
        session.close()

    def test_load_file_reads_a_mounted_model_and_nothing_else(self):
        runtime = Runtime(self.runtime.component, engine=self.runtime.engine, model_dirs=[os.path.join(MODELS, 'magika')])
        session = runtime.load_file(os.path.join(MODELS, 'magika', 'model.onnx'))
        feeds = case_inputs(index()['magika'], 0)
        want = self.runtime.load(read(MODELS, 'magika', 'model.onnx')).run(feeds)['target_label']
        np.testing.assert_array_equal(session.run(feeds)['target_label'], want)
        with self.assertRaises(OnnxletError) as e:
            runtime.load_file(os.path.join(MODELS, 'squeezenet', 'model.onnx'))
        self.assertEqual(e.exception.code, 'INVALID_ARGUMENT')
        self.assertIn('preopened', e.exception.message)

    def test_engine(self):
        self.assertEqual(self.runtime.engine_name, self.ENGINE)

    def test_magika_matches_onnxruntime(self):
        self.check_model('magika')

    def test_squeezenet_matches_onnxruntime(self):
        self.check_model('squeezenet')

    def test_every_dtype_round_trips(self):
        session = self.runtime.load(read(ROOT, 'tests', 'models', 'all_dtypes.onnx'))
        arrays = ALL_DTYPES
        outputs = session.run(arrays)
        for name, array in arrays.items():
            got = outputs[f'{name}_out']
            self.assertEqual(got.dtype, array.dtype, name)
            np.testing.assert_array_equal(got, array, err_msg=name)

    def test_errors_carry_onnxlet_codes(self):
        with self.assertRaises(OnnxletError) as e:
            self.runtime.load(b'\x08\x07garbage')
        self.assertEqual(e.exception.code, 'INVALID_MODEL')
        session = self.runtime.load(read(MODELS, 'magika', 'model.onnx'))
        for feeds, fragments in [
            ({'bytes': np.zeros((1, 1000), np.int32)}, ["'bytes'", '1000']),
            ({'bytes': np.zeros((1, 2048), np.float32)}, ["'bytes'", 'float32']),
            ({'nope': np.zeros((1, 2048), np.int32)}, ["unknown input 'nope'"]),
        ]:
            with self.assertRaises(OnnxletError) as e:
                session.run(feeds)
            self.assertEqual(e.exception.code, 'INVALID_INPUT')
            for fragment in fragments:
                self.assertIn(fragment, e.exception.message)
        # The instance survives refused calls.
        self.assertEqual(session.run({'bytes': np.zeros((1, 2048), np.int32)})['target_label'].shape, (1, 214))

    def test_example_labels_files_as_onnxruntime_does(self):
        if self.ENGINE != 'tract':
            self.skipTest("the example runs the default component")
        sys.path.insert(0, EXAMPLE)
        from identify import features
        with open(os.path.join(MODELS, 'magika', 'config.min.json'), encoding='utf-8') as f:
            config = json.load(f)
        with tempfile.TemporaryDirectory() as tmp:
            files = {'a.py': read(ROOT, 'scripts', 'wasmtime_run.py'), 'b.json': read(ROOT, 'package.json'),
                     'c.rs': read(ROOT, 'src', 'lib.rs')}
            for name, data in files.items():
                with open(os.path.join(tmp, name), 'wb') as f:
                    f.write(data)
            paths = [os.path.join(tmp, name) for name in files]
            done = subprocess.run([sys.executable, os.path.join(EXAMPLE, 'identify.py'), *paths],
                                  capture_output=True, text=True, check=True)
            reference = ort.InferenceSession(os.path.join(MODELS, 'magika', 'model.onnx'))
            (scores,) = reference.run(None, {'bytes': np.stack([features(d, config) for d in files.values()])})
            expected = [f"{p}: {config['target_labels_space'][row.argmax()]}" for p, row in zip(paths, scores)]
            self.assertEqual([line.rsplit(' ', 1)[0] for line in done.stdout.splitlines()], expected)
            self.assertEqual([config['target_labels_space'][row.argmax()] for row in scores], ['python', 'json', 'rust'])


class LiteComponentTest(ComponentTest):
    """The component on the lite engine: a fifth of the size, the models the lite engine runs."""

    COMPONENT = os.path.join(DIST, 'onnxlet-component-lite.wasm')
    ENGINE = 'lite'

    def test_every_dtype_round_trips(self):
        # float64 and the 16-bit integers are the tract component's: refused, naming the type.
        with self.assertRaises(OnnxletError) as e:
            self.runtime.load(read(ROOT, 'tests', 'models', 'all_dtypes.onnx'))
        self.assertEqual(e.exception.code, 'UNSUPPORTED_OPERATOR')
        self.assertIn('lite build', e.exception.message)


if __name__ == '__main__':
    unittest.main()
