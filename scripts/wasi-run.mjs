// Runs a wasm32-wasip1 program under Node's WASI, the working directory preopened as `.`:
// `node scripts/wasi-run.mjs PROGRAM.wasm [args...]`. The exit status is the program's; a trap
// (a panic, which aborts on wasm32) ends Node with status 1 and the trap on stderr. Used by
// scripts/fuzz.mjs to fuzz the lite engine as wasm32 (32-bit usize) code.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

// A trap's stack names the panic's site (the module's name section), well past the panic machinery.
Error.stackTraceLimit = 200;
const [program, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: [program, ...args], env: process.env, preopens: { '.': process.cwd() } });
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance) ?? 0;
