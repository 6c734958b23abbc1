"""Labels files with Google's magika model run by onnxlet's WebAssembly component inside Python:
`python3 identify.py [--component FILE] [--model DIR] FILE...` prints `FILE: LABEL (SCORE)` per file,
the model's own prediction (magika's Python package also applies per-type confidence thresholds).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from onnxlet_component import Runtime

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')


def features(data, config):
    """The model's input: the first and last bytes, whitespace stripped, padded (as magika does)."""
    beg_size, end_size, block = config['beg_size'], config['end_size'], config['block_size']
    n = min(block, len(data))
    start, end = 0, len(data)
    while start < n and data[start] in b' \t\n\v\f\r':
        start += 1
    while end > len(data) - n and data[end - 1] in b' \t\n\v\f\r':
        end -= 1
    beg = data[start:min(n, start + beg_size)]
    last = data[max(len(data) - n, end - end_size):end]
    out = np.full(beg_size + end_size, config['padding_token'], np.int32)
    out[:len(beg)] = list(beg)
    out[len(out) - len(last):] = list(last)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--component', default=os.path.join(ROOT, 'dist', 'wasi', 'onnxlet-component.wasm'))
    parser.add_argument('--model', default=os.path.join(ROOT, '.cache', 'models', 'magika'))
    parser.add_argument('files', nargs='+')
    args = parser.parse_args()
    with open(os.path.join(args.model, 'config.min.json'), encoding='utf-8') as f:
        config = json.load(f)
    started = time.perf_counter()
    runtime = Runtime(args.component, model_dirs=[args.model])
    session = runtime.load_file(os.path.join(args.model, 'model.onnx'))
    print(f'{runtime.engine_name} engine, model ready in {time.perf_counter() - started:.2f} s', file=sys.stderr)
    batch = []
    for path in args.files:
        with open(path, 'rb') as f:
            batch.append(features(f.read(), config))
    (scores,) = session.run({'bytes': np.stack(batch)}).values()
    for path, row in zip(args.files, scores):
        best = int(row.argmax())
        print(f"{path}: {config['target_labels_space'][best]} ({row[best]:.3f})")


if __name__ == '__main__':
    main()
