"""Size and wasmtime cold start of the WASI runner (dist/wasi/, docs/wasi.md).

    python3 bench/wasi.py [--starts N]      (after `node scripts/build.mjs --module wasi`)

Prints, as markdown: each module's size (raw, gzip -9, brotli -q 11 when the `brotli` module is
installed, else Node's), and for magika and squeezenet on each engine the time from a fresh
wasmtime engine to the first result written (compile + instantiate + load + run), compiled from
the .wasm or read from a precompiled .cwasm (`wasmtime compile`'s format), median of N starts.
"""

import argparse
import gzip
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import wasmtime_run  # noqa: E402

DIST = os.path.join(ROOT, 'dist', 'wasi')
MODELS = os.path.join(ROOT, '.cache', 'models')
RUNNERS = {'lite': 'onnxlet-lite.wasm', 'tract': 'onnxlet.wasm'}


def brotli_size(path):
    script = ("const z=require('zlib');const b=require('fs').readFileSync(process.argv[1]);"
              "console.log(z.brotliCompressSync(b,{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length)")
    return int(subprocess.run(['node', '-e', script, path], capture_output=True, text=True, check=True).stdout)


def sizes():
    print('| module | raw | gzip | brotli |\n|---|---:|---:|---:|')
    for name in [*RUNNERS.values(), 'onnxlet-component.wasm']:
        path = os.path.join(DIST, name)
        if not os.path.exists(path):
            continue
        with open(path, 'rb') as f:
            data = f.read()
        print(f'| `dist/wasi/{name}` | {len(data):,} | {len(gzip.compress(data, 9)):,} | {brotli_size(path):,} |')


def cold_start(build, model, precompiled, job):
    """Seconds from a fresh engine to the first result on disk."""
    started = time.perf_counter()
    engine = wasmtime_run.engine()
    module = wasmtime_run.load(engine, os.path.join(DIST, RUNNERS[build]), precompiled)
    code, out, err = wasmtime_run.run(engine, module, [
        'run', '/inputs/model.onnx', '--input', '/inputs/input.npy', '--output-dir', '/outputs'],
        [(job['inputs'], '/inputs', False), (job['outputs'], '/outputs', True)])
    elapsed = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f'{build} {model}: exit {code}: {err}')
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--starts', type=int, default=3)
    opts = parser.parse_args()
    version = importlib.metadata.version('wasmtime')
    print(f'WASI runner, {time.strftime("%Y-%m-%d")}, wasmtime {version} (PyPI), {opts.starts} starts each\n')
    sizes()
    with open(os.path.join(MODELS, 'index.json'), encoding='utf-8') as f:
        index = {m['name']: m for m in json.load(f)['models']}
    print('\n| engine | model | compile + first result | precompiled (.cwasm) + first result |\n|---|---|---:|---:|')
    with tempfile.TemporaryDirectory() as tmp:
        for build in RUNNERS:
            cwasm = os.path.join(tmp, f'{build}.cwasm')
            wasmtime_run.load(wasmtime_run.engine(), os.path.join(DIST, RUNNERS[build]), cwasm)
            for model in ('magika', 'squeezenet'):
                job = {'inputs': os.path.join(tmp, 'inputs'), 'outputs': os.path.join(tmp, 'outputs')}
                os.makedirs(job['inputs'], exist_ok=True)
                os.makedirs(job['outputs'], exist_ok=True)
                info = index[model]
                with open(os.path.join(MODELS, info['file']), 'rb') as src, \
                        open(os.path.join(job['inputs'], 'model.onnx'), 'wb') as dst:
                    dst.write(src.read())
                case = info['cases'][0]['inputs'][0]
                np.save(os.path.join(job['inputs'], 'input.npy'),
                        np.fromfile(os.path.join(MODELS, case['file']), dtype=case['type']).reshape(case['dims']))
                cold = statistics.median(cold_start(build, model, None, job) for _ in range(opts.starts))
                warm = statistics.median(cold_start(build, model, cwasm, job) for _ in range(opts.starts))
                print(f'| {build} | {model} | {cold:.2f} s | {warm:.2f} s |')


if __name__ == '__main__':
    main()
