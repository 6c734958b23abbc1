"""Runs a wasm32-wasip1 command under wasmtime (the `wasmtime` PyPI package), like `wasmtime run`.

    python3 scripts/wasmtime_run.py [--dir HOST::GUEST]... [--precompiled FILE] MODULE.wasm -- ARGS...

`--dir HOST::GUEST` mounts (preopens) a host directory at GUEST, as `wasmtime run --dir` does
(`--ro-dir` read-only);
`--precompiled FILE` keeps the module's machine code in FILE (`wasmtime compile`'s .cwasm), compiling
it only when FILE is missing. The exit status is the command's. tests/wasi/test_cli.py and
bench/wasi.py use `run` below.
"""

import argparse
import os
import sys
import tempfile
import time

import wasmtime


def engine():
    config = wasmtime.Config()
    # The SIMD kernels need wasm SIMD (on by default in wasmtime; explicit here).
    config.wasm_simd = True
    return wasmtime.Engine(config)


def load(eng, module_path, precompiled=None):
    """The module, compiled (or read from `precompiled`, written there when missing)."""
    if precompiled and os.path.exists(precompiled):
        return wasmtime.Module.deserialize_file(eng, precompiled)
    module = wasmtime.Module.from_file(eng, module_path)
    if precompiled:
        with open(precompiled, 'wb') as f:
            f.write(module.serialize())
    return module


def run(eng, module, args, dirs=(), stdout=None, stderr=None):
    """Runs `module` with argv `['onnxlet', *args]` and the mounts `dirs`: `(host, guest)` pairs, or
    `(host, guest, writable)` (read-only when `writable` is false).

    Returns `(exit_code, stdout_text, stderr_text)`; a trap (a panic aborts) is exit code 134,
    with the trap's message appended to stderr, as wasmtime's CLI reports it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out_path, err_path = os.path.join(tmp, 'stdout'), os.path.join(tmp, 'stderr')
        wasi = wasmtime.WasiConfig()
        wasi.argv = ['onnxlet', *args]
        wasi.stdout_file = stdout or out_path
        wasi.stderr_file = stderr or err_path
        for host, guest, *writable in dirs:
            wasi.preopen_dir(host, guest, bool(writable[0]) if writable else True)
        store = wasmtime.Store(eng)
        store.set_wasi(wasi)
        linker = wasmtime.Linker(eng)
        linker.define_wasi()
        instance = linker.instantiate(store, module)
        code, trap = 0, ''
        try:
            instance.exports(store)['_start'](store)
        except wasmtime.ExitTrap as e:
            code = e.code
        except wasmtime.Trap as e:
            code, trap = 134, f'\nwasm trap: {e.message}'
        return code, _text(stdout or out_path), _text(stderr or err_path) + trap


def _text(path):
    if not os.path.exists(path):
        return ''
    with open(path, encoding='utf-8', errors='replace') as f:
        return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dir', action='append', default=[], help='HOST::GUEST (or HOST, mounted at the same path)')
    parser.add_argument('--ro-dir', action='append', default=[], help='HOST::GUEST, read-only')
    parser.add_argument('--precompiled', help='cache of the compiled module (.cwasm)')
    parser.add_argument('--time', action='store_true', help='print compile and run times to stderr')
    parser.add_argument('module')
    parser.add_argument('args', nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    args = opts.args[1:] if opts.args[:1] == ['--'] else opts.args
    mount = lambda d, writable: (*(d.split('::', 1) if '::' in d else (d, d)), writable)
    dirs = [mount(d, True) for d in opts.dir] + [mount(d, False) for d in opts.ro_dir]
    eng = engine()
    started = time.perf_counter()
    module = load(eng, opts.module, opts.precompiled)
    loaded = time.perf_counter()
    code, out, err = run(eng, module, args, dirs)
    sys.stdout.write(out)
    sys.stderr.write(err)
    if opts.time:
        done = time.perf_counter()
        print(f'compile/load {loaded - started:.3f} s, run {done - loaded:.3f} s', file=sys.stderr)
    sys.exit(code)


if __name__ == '__main__':
    main()
