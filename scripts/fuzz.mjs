// The fuzzing harness of issue 31 (not in `npm test`): builds examples/fuzz.rs natively for the
// lite engine and the tract engine, and for wasm32-wasip1 on the lite engine (`lite-wasm`, run
// under Node's WASI by scripts/wasi-run.mjs: the module's 32-bit usize, where a size that fits
// natively can overflow), runs each for a budget of seconds (at nice 19, one process at a time),
// restarts a run the process died in after its last checkpoint (recording the range), and writes
// the report to docs/fuzzing-<date>.md.
//
//   node scripts/fuzz.mjs [--seconds 600] [--seed 1] [--engines lite,tract,lite-wasm] [--no-build]
//
// Findings (inputs and findings.txt) go to target/fuzz/<engine>/; each becomes a regression test.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

import { root } from './setup.mjs';
import { ensurePatched } from './vendor.mjs';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    seed: { type: 'string', default: '1' },
    engines: { type: 'string', default: 'lite,tract' },
    'no-build': { type: 'boolean', default: false },
  },
});
ensurePatched(); // the vendored tract crates (vendor/README.md)
const engines = opts.engines.split(',');
const lite = ['--no-default-features', '--features', 'lite'];
const features = { lite, tract: [], 'lite-wasm': [...lite, '--target', 'wasm32-wasip1'] };
const wasm = (engine) => engine.endsWith('-wasm');
const bin = join(root, 'target', 'fuzz', 'bin');
mkdirSync(bin, { recursive: true });
// The lite engine's kernels are onnxlet's own code: optimised, as in its native tests.
const optimised = ['--config', 'profile.dev.package.onnxlet.opt-level=3'];

for (const engine of engines) {
  const binary = join(bin, `fuzz-${engine}${wasm(engine) ? '.wasm' : ''}`);
  if (opts['no-build'] && existsSync(binary)) continue;
  const built = spawnSync('nice', ['-n', '19', 'cargo', 'build', '--example', 'fuzz', ...features[engine], ...optimised], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, CARGO_INCREMENTAL: '0' },
  });
  if (built.status !== 0) process.exit(1);
  const output = wasm(engine) ? join('wasm32-wasip1', 'debug', 'examples', 'fuzz.wasm') : join('debug', 'examples', 'fuzz');
  copyFileSync(join(root, 'target', output), binary);
}

const seedDirs = ['tests/models', 'tests/models/hostile'];
const results = [];
for (const engine of engines) {
  const findings = join(root, 'target', 'fuzz', engine);
  rmSync(findings, { recursive: true, force: true });
  mkdirSync(findings, { recursive: true });
  const deadline = Date.now() + Number(opts.seconds) * 1000;
  const total = { execs: 0, loaded: 0, runs: 0, runsOk: 0, errors: {}, findings: {}, deaths: [] };
  let from = 0;
  while (Date.now() < deadline - 1000) {
    const seconds = Math.ceil((deadline - Date.now()) / 1000);
    // Paths relative to the root: the wasm program sees the root, preopened as `.`, only.
    // A wasm program runs 20,000 executions per process: a WebAssembly memory never shrinks, and
    // Node (20) crashed in its garbage collector after a few hundred thousand executions had
    // grown and fragmented one.
    const to = wasm(engine) ? ['--to', String(from + 20_000)] : [];
    const args = ['--seed', opts.seed, '--seconds', String(seconds), '--from', String(from), ...to, '--findings', relative(root, findings), ...seedDirs];
    const program = wasm(engine)
      ? [process.execPath, '--no-warnings', join(root, 'scripts', 'wasi-run.mjs'), join(bin, `fuzz-${engine}.wasm`)]
      : [join(bin, `fuzz-${engine}`)];
    const started = Date.now();
    const out = spawnSync('nice', ['-n', '19', ...program, ...args], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = out.stdout.trim().split('\n');
    const summary = lines.find((l) => l.startsWith('summary '));
    if (summary) {
      const s = JSON.parse(summary.slice('summary '.length));
      for (const k of ['execs', 'loaded', 'runs', 'runsOk']) total[k] += s[k];
      for (const group of ['errors', 'findings'])
        for (const [k, v] of Object.entries(s[group])) total[group][k] = (total[group][k] ?? 0) + v;
      // Ended at its --to: the next process goes on from there.
      from = s.next;
      continue;
    }
    // The process died (an allocation failure, say): the input is in the last 1000 executions.
    const checkpoints = lines.filter((l) => l.startsWith('checkpoint ')).map((l) => Number(l.split(' ')[1]));
    const last = checkpoints.at(-1) ?? from;
    const death = { from: last, to: last + 1000, status: out.status, signal: out.signal, seconds: (Date.now() - started) / 1000 };
    total.deaths.push(death);
    console.error(`fuzz-${engine} died (${out.signal ?? out.status}) in executions ${last}..${last + 1000}`);
    // Executions before the checkpoint ran (the count is approximate within the last thousand).
    total.execs += last - from;
    from = last + 1000;
  }
  const findingsFile = join(findings, 'findings.txt');
  total.findingLines = existsSync(findingsFile) ? readFileSync(findingsFile, 'utf8').trim().split('\n').filter(Boolean) : [];
  const result = { engine, seconds: Number(opts.seconds), seed: Number(opts.seed), date: new Date().toISOString(), ...total };
  writeFileSync(join(root, 'target', 'fuzz', `${engine}.json`), JSON.stringify(result, null, 1));
  console.log(engine, JSON.stringify(total));
}
// The report has the last run of each engine (a run of one engine keeps the other's).
for (const engine of Object.keys(features)) {
  const file = join(root, 'target', 'fuzz', `${engine}.json`);
  if (existsSync(file)) results.push(JSON.parse(readFileSync(file, 'utf8')));
}

const date = new Date().toISOString().slice(0, 10);
const row = (r) => `| ${r.engine} | ${r.seed} | ${r.seconds} | ${r.execs.toLocaleString('en')} | ${r.loaded.toLocaleString('en')} | ${r.runs.toLocaleString('en')} (${r.runsOk.toLocaleString('en')} ok) | ${Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ')} | ${Object.values(r.findings).reduce((a, b) => a + b, 0) + r.deaths.length} |`;
const report = `# Fuzzing report, ${date}

\`node scripts/fuzz.mjs --seconds N --seed S --engines E\` (the table gives each engine's last run): examples/fuzz.rs (a
seeded, std-only mutation fuzzer of \`Session::load\` and of \`Session::run\` with hostile feeds) on the native builds
and, as \`lite-wasm\`, on the lite engine built for wasm32-wasip1 under Node's WASI (32-bit sizes, as in the browser),
seeded from ${seedDirs.join(' and ')}, at nice 19 on the shared 2-core machine. A finding is a panic (a module crash
on wasm32), a load or run over 2 s, or a process death (an allocation failure); identical sites count once.

| engine | seed | seconds | executions | loaded | runs | errors (by code) | findings |
| --- | --- | --- | --- | --- | --- | --- | --- |
${results.map(row).join('\n')}

Total executions: ${results.reduce((a, r) => a + r.execs, 0).toLocaleString('en')} (issue 31's target: 10,000,000).

## Findings
${results
  .map(
    (r) => `
### ${r.engine}
${[...r.findingLines.map((l) => `- \`${l.replaceAll('`', "'")}\``), ...r.deaths.map((d) => `- process died (${d.signal ?? `exit ${d.status}`}) in executions ${d.from}..${d.to} of seed ${r.seed} (replay: \`fuzz --seed ${r.seed} --from ${d.from} --to ${d.to} --save-each DIR\`)`)].join('\n') || '- none'}
`,
  )
  .join('')}`;
writeFileSync(join(root, 'docs', `fuzzing-${date}.md`), report);
console.log(`docs/fuzzing-${date}.md written`);
