// The command-line examples (examples/node, examples/deno, examples/bun), run as a user runs them:
// onnxlet installed from the packed tarball, each script on real files, its printed labels and
// scores checked against magika's labelling with onnxruntime-web running the model.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { bin, installExample, mustRun, removeExamples, run } from '../support/examples.mjs';
import { description, magikaDir, reference } from '../support/magika.mjs';
import { root } from '../support/models.mjs';

/** Real files of the repository and what magika calls them (checked against the reference too). */
const FILES = {
  'scripts/fetch-models.py': 'python',
  'README.md': 'markdown',
  'Cargo.toml': 'toml',
  'src/lib.rs': 'rust',
  'tests/models/two_outputs.onnx': 'onnx',
  'tests/browser/pages/icon.svg': 'svg',
};

const dirs = {};

before(async () => {
  for (const name of ['node', 'deno', 'bun']) dirs[name] = await installExample(name);
});

after(removeExamples);

/** Checks lines of `label score` (the top three) against the reference for `bytes`. */
async function checkTopThree(stdout, bytes, what) {
  const [expected] = await reference([bytes]);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 3, `${what}: three lines expected, got\n${stdout}`);
  for (const [i, line] of lines.entries()) {
    const [, label, score] = line.match(/^(\S+) (\d\.\d{4})$/) ?? assert.fail(`${what}: unexpected line ${JSON.stringify(line)}`);
    if (i === 0) assert.equal(label, expected.top[0].label, `${what}: top label`);
    const want = expected.top.find((t) => t.label === label);
    assert.ok(Math.abs(Number(score) - want.score) <= 1.5e-4, `${what}: ${label} scored ${score}, onnxruntime-web ${want.score}`);
  }
  return lines[0].split(' ')[0];
}

/**
 * Progress lines: `download N%` rising to 100%, then `compile N%` from 0% rising as the model is
 * built, then `ready 100%`.
 */
function checkProgress(stderr) {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.at(-1), 'ready 100%', stderr);
  const compiles = lines.findIndex((l) => l.startsWith('compile '));
  assert.equal(lines[compiles - 1], 'download 100%', stderr);
  assert.equal(lines[compiles], 'compile 0%', stderr);
  const rising = (phase, from, to) => {
    const percents = lines.slice(from, to).map((l) => Number(l.match(new RegExp(`^${phase} (\\d+)%$`))?.[1] ?? NaN));
    assert.ok(percents.every((p, i) => p >= (percents[i - 1] ?? 0)), `${phase} progress in order:\n${stderr}`);
  };
  rising('download', 0, compiles);
  rising('compile', compiles, -1);
}

test('examples/node labels real files as magika does, with progress on stderr', async () => {
  const small = join(dirs.node, 'small.txt');
  const empty = join(dirs.node, 'empty.bin');
  writeFileSync(small, 'hi!\n');
  writeFileSync(empty, '');
  const files = [...Object.keys(FILES).map((f) => join(root, f)), small, empty];
  const { stdout, stderr } = await mustRun(process.execPath, ['identify.mjs', '--model', magikaDir, ...files], { cwd: dirs.node });

  const expected = await reference(files.map((f) => new Uint8Array(readFileSync(f))));
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, files.length, stdout);
  for (const [i, file] of files.entries()) {
    const want = expected[i];
    if (want.dlLabel === null) {
      const shown = want.label === 'empty' ? 'empty' : `${want.label} (too small for the model)`;
      assert.equal(lines[i], `${file}: ${shown}`);
      continue;
    }
    const match = lines[i].match(/^(.+): (\S+) \((.+)\), model says (\S+) with score (\d\.\d{4})$/);
    assert.ok(match, `unexpected line ${JSON.stringify(lines[i])}`);
    const [, path, label, desc, dlLabel, score] = match;
    assert.equal(path, file);
    assert.equal(label, want.label, file);
    assert.equal(desc, description(want.label));
    assert.equal(dlLabel, want.dlLabel, file);
    assert.ok(Math.abs(Number(score) - want.score) <= 1.5e-4, `${file}: score ${score}, onnxruntime-web ${want.score}`);
  }
  assert.deepEqual(
    expected.slice(0, -2).map((r) => r.label),
    Object.values(FILES),
    'the reference labels the sample files as expected',
  );
  assert.deepEqual(expected.slice(-2).map((r) => r.label), ['txt', 'empty']);

  const progress = stderr.trim().split('\n');
  assert.match(progress[0], /^download \d+% \(\d+ bytes\)$/);
  assert.equal(progress.at(-2), 'ready', stderr);
  assert.match(progress.at(-1), /^model ready in \d+ ms$/);
  const compiles = progress.findIndex((l) => l.startsWith('compile'));
  assert.match(progress[compiles - 1], /^download 100% \(3163737 bytes\)$/);
  assert.ok(progress.slice(compiles, -2).every((l) => /^compile \d+%$/.test(l)), stderr);
});

test('examples/node explains its usage when given no file', async () => {
  const { status, stdout, stderr } = await run(process.execPath, ['identify.mjs'], { cwd: dirs.node });
  assert.equal(status, 2);
  assert.equal(stdout, '');
  assert.equal(stderr, 'usage: node identify.mjs [--model DIR] FILE...\n');
});

test('examples/deno type-checks and prints the top three content types under Deno', async () => {
  await mustRun(bin('deno'), ['check', 'identify.ts'], { cwd: dirs.deno });
  for (const file of ['README.md', 'src/lib.rs']) {
    const { stdout, stderr } = await mustRun(bin('deno'), ['run', '--allow-read', 'identify.ts', join(root, file), magikaDir], {
      cwd: dirs.deno,
    });
    assert.equal(await checkTopThree(stdout, new Uint8Array(readFileSync(join(root, file))), file), FILES[file]);
    checkProgress(stderr);
  }
});

test('examples/bun prints the top three content types under Bun', async () => {
  for (const file of ['Cargo.toml', 'scripts/fetch-models.py']) {
    const { stdout, stderr } = await mustRun(bin('bun'), ['identify.ts', join(root, file), magikaDir], { cwd: dirs.bun });
    assert.equal(await checkTopThree(stdout, new Uint8Array(readFileSync(join(root, file))), file), FILES[file]);
    checkProgress(stderr);
  }
});
