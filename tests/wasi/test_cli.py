"""The WASI command-line runner (dist/wasi/onnxlet*.wasm, wasi/cli) under wasmtime, with the mounts of
docs/wasi.md's Bacalhau job (/inputs read-only, /outputs), against onnxruntime on the real models.

    python3 -m unittest discover -s tests/wasi -v     (npm test runs it after the build)
"""

import os
import sys
import tempfile
import unittest

import numpy as np
import onnxruntime as ort

from wasi_support import ALL_DTYPES, DIST, MODELS, ROOT, case_inputs, index, read

sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import wasmtime_run  # noqa: E402
# Both builds of the runner: the lite engine and tract (docs/wasi.md says which to use when).
# ONNXLET_WASI_BUILDS=lite runs only one (a fast loop); npm test runs both.
BUILDS = {b: f for b, f in {'lite': 'onnxlet-lite.wasm', 'tract': 'onnxlet.wasm'}.items()
          if b in os.environ.get('ONNXLET_WASI_BUILDS', 'lite,tract').split(',')}
ENGINE = wasmtime_run.engine()
_compiled = {}


def module(build):
    """The compiled runner (compiled once per test run: tract's takes seconds)."""
    if build not in _compiled:
        path = os.path.join(DIST, BUILDS[build])
        if not os.path.exists(path):
            raise FileNotFoundError(f'{path} is missing: run `node scripts/build.mjs --module wasi`')
        _compiled[build] = wasmtime_run.load(ENGINE, path)
    return _compiled[build]


class Job:
    """A job's directories: /inputs (mounted read-only, as Bacalhau mounts inputs) and /outputs."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.inputs = os.path.join(self.tmp.name, 'inputs')
        self.outputs = os.path.join(self.tmp.name, 'outputs')
        os.mkdir(self.inputs)
        os.mkdir(self.outputs)

    def add(self, name, data):
        """Writes `data` (bytes or a numpy array, saved as .npy) to /inputs/`name`."""
        path = os.path.join(self.inputs, name)
        if isinstance(data, bytes):
            with open(path, 'wb') as f:
                f.write(data)
        else:
            np.save(path, data)
        return f'/inputs/{name}'

    def run(self, build, *args):
        dirs = [(self.inputs, '/inputs', False), (self.outputs, '/outputs', True)]
        return wasmtime_run.run(ENGINE, module(build), list(args), dirs)

    def output(self, name):
        return np.load(os.path.join(self.outputs, name), allow_pickle=False)

    def close(self):
        self.tmp.cleanup()


class CliTest(unittest.TestCase):
    def setUp(self):
        self.job = Job()

    def tearDown(self):
        self.job.close()

    def assert_ok(self, result):
        code, out, err = result
        self.assertEqual(code, 0, f'exit {code}\nstdout: {out}\nstderr: {err}')
        return out

    def assert_fails(self, result, code, *fragments):
        got, out, err = result
        self.assertEqual(got, code, f'stdout: {out}\nstderr: {err}')
        self.assertNotIn('internal error', err)
        self.assertNotIn('wasm trap', err)
        for fragment in fragments:
            self.assertIn(fragment, err)

    def check_model(self, build, name, cases):
        model = index()[name]
        path = self.job.add('model.onnx', read(MODELS, model['file']))
        session = ort.InferenceSession(os.path.join(MODELS, model['file']), providers=['CPUExecutionProvider'])
        for case in cases:
            feeds = case_inputs(model, case)
            args = ['run', path, '--output-dir', '/outputs']
            for input_name, array in feeds.items():
                args += ['--input', f'{input_name}={self.job.add(f"{case}-{input_name}.npy", array)}']
            out = self.assert_ok(self.job.run(build, *args))
            expected = session.run(None, feeds)
            for info, want in zip(model['outputs'], expected):
                got = self.job.output(f"{info['name']}.npy")
                self.assertIn(f"{info['name']}: {want.dtype} [{', '.join(map(str, want.shape))}]", out)
                self.assertEqual((got.dtype, got.shape), (want.dtype, want.shape))
                np.testing.assert_allclose(got, want, rtol=model['rtol'], atol=model['atol'],
                                           err_msg=f'{build} {name} case {case}')
                if model.get('classifier'):
                    self.assertEqual(got.argmax(), want.argmax())

    def test_magika_matches_onnxruntime(self):
        for build in BUILDS:
            with self.subTest(build=build):
                self.check_model(build, 'magika', range(len(index()['magika']['cases'])))

    def test_squeezenet_matches_onnxruntime(self):
        for build in BUILDS:
            with self.subTest(build=build):
                self.check_model(build, 'squeezenet', [0])

    def test_info_lists_inputs_and_outputs(self):
        path = self.job.add('model.onnx', read(MODELS, 'magika', 'model.onnx'))
        for build in BUILDS:
            with self.subTest(build=build):
                for args in (['run', path, '--info'], ['info', path]):
                    out = self.assert_ok(self.job.run(build, *args))
                    self.assertEqual(out, f'engine: {build}\ninputs:\n  bytes: int32 [unk__214, 2048]\n'
                                          'outputs:\n  target_label: float32 [unk__215, 214]\n')

    def test_every_dtype_round_trips_through_npy(self):
        # Identity on every element type .npy can hold; the lite engine's refusal must be clear.
        path = self.job.add('all.onnx', read(ROOT, 'tests', 'models', 'all_dtypes.onnx'))
        arrays = ALL_DTYPES
        args = ['run', path, '--output-dir', '/outputs']
        for name, array in arrays.items():
            args += ['--input', f'{name}={self.job.add(name + ".npy", array)}']
        if 'tract' in BUILDS:
            self.assert_ok(self.job.run('tract', *args))
            for name, array in arrays.items():
                got = self.job.output(f'{name}_out.npy')
                self.assertEqual(got.dtype, array.dtype, name)
                np.testing.assert_array_equal(got, array, err_msg=name)
        if 'lite' in BUILDS:
            # The lite engine has no strings: it refuses the model, naming why.
            code, _, err = self.job.run('lite', *args)
            self.assertEqual(code, 1, err)
            self.assertRegex(err, r'onnxlet: (UNSUPPORTED_OPERATOR|INVALID_MODEL): ')

    def test_bad_inputs_fail_with_a_clear_message(self):
        path = self.job.add('model.onnx', read(MODELS, 'magika', 'model.onnx'))
        good = np.zeros((1, 2048), np.int32)
        np.save(os.path.join(self.job.tmp.name, 'good.npy'), good)
        good_bytes = read(self.job.tmp.name, 'good.npy')
        run = ['run', path, '--output-dir', '/outputs', '--input']
        cases = [
            (np.zeros((1, 1000), np.int32), 1, ['INVALID_INPUT', "'bytes'", '1000']),
            (np.zeros((1, 2048), np.float32), 1, ['INVALID_INPUT', "'bytes'", 'float32']),
            (good_bytes[:-10], 1, ["input 'bytes'", 'declares 2048 elements']),
            (b'\x93NUMPY\x01\x00\x10\x00{"descr": <i4}  \n', 1, ["input 'bytes'", 'malformed header']),
            (good_bytes[:64].replace(b"'<i4'", b"'>i4'") + good_bytes[64:], 1, ['big-endian']),
            (good_bytes[:64].replace(b'False', b'True ') + good_bytes[64:], 1, ['Fortran-order']),
            (b'not numpy', 1, ['not a .npy file']),
        ]
        for build in BUILDS:
            for i, (data, code, fragments) in enumerate(cases):
                with self.subTest(build=build, case=i):
                    self.assert_fails(self.job.run(build, *run, f'bytes={self.job.add(f"bad{i}.npy", data)}'),
                                      code, *fragments)
            with self.subTest(build=build, case='missing file'):
                self.assert_fails(self.job.run(build, *run, 'bytes=/inputs/nope.npy'), 1,
                                  'cannot read input /inputs/nope.npy', 'wasmtime --dir')
            with self.subTest(build=build, case='unmounted output directory'):
                self.assert_fails(self.job.run(build, 'run', path, '--input', self.job.add('ok.npy', good),
                                               '--output-dir', '/elsewhere'), 1, 'cannot write output')
            with self.subTest(build=build, case='not a model'):
                self.assert_fails(self.job.run(build, 'info', self.job.add('bad.onnx', b'\x08\x07garbage')),
                                  1, 'INVALID_MODEL')
            with self.subTest(build=build, case='usage'):
                self.assert_fails(self.job.run(build, 'run', path), 2, '--output-dir is required', 'usage:')
                self.assert_fails(self.job.run(build, 'run', path, '--info', '--bogus'), 2, "unknown option '--bogus'")


if __name__ == '__main__':
    unittest.main()
