// The vendored tract crates: pristine copies from crates.io (vendor/pristine/<crate>, checksums in
// vendor/manifest.json) plus a patch series (vendor/patches/NNNN-*.patch, applied in order with
// `git apply`), built into vendor/patched/<crate>, which Cargo's [patch.crates-io] points at.
// vendor/patched/ is generated and git-ignored; never edit pristine/ by hand. See vendor/README.md.
//
//   node scripts/vendor.mjs                 build vendor/patched/ if pristine/ or patches/ changed
//   node scripts/vendor.mjs --check         the patches apply in order and vendor/patched/ is theirs
//   node scripts/vendor.mjs --save SUBJECT [--body TEXT]
//                                           write the edits made in vendor/patched/ as a new patch
//   node scripts/vendor.mjs --export DIR    a git repository: pristine commit, one commit per patch
//   node scripts/vendor.mjs --import DIR    rewrite vendor/patches/ from that repository's commits
//   node scripts/vendor.mjs --update VER    download tract VER from crates.io into pristine/
//   node scripts/vendor.mjs --verify        download the pinned .crate files, compare with pristine/
//
// Node built-ins, git and tar only, so that it runs before `npm install`.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vendor = join(root, 'vendor');
const pristineDir = join(vendor, 'pristine');
const patchesDir = join(vendor, 'patches');
const patchedDir = join(vendor, 'patched');
const manifestFile = join(vendor, 'manifest.json');
const stampFile = join(patchedDir, '.stamp');

const readManifest = () => JSON.parse(readFileSync(manifestFile, 'utf8'));

/** Files under dir, relative, sorted (directories walked, symlinks not expected). */
function files(dir, base = dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p, base));
    else out.push(relative(base, p));
  }
  return out.sort();
}

const patchFiles = () => readdirSync(patchesDir).filter((f) => f.endsWith('.patch')).sort();

/** What vendor/patched/ is built from: the manifest, the pristine crates, the patches, this script. */
function inputsHash() {
  const h = createHash('sha256');
  const add = (name, path) => h.update(`${name}\0`).update(readFileSync(path)).update('\0');
  add('manifest', manifestFile);
  add('script', fileURLToPath(import.meta.url));
  for (const f of files(pristineDir)) add(`pristine/${f}`, join(pristineDir, f));
  for (const f of patchFiles()) add(`patches/${f}`, join(patchesDir, f));
  return h.digest('hex');
}

function git(args, options = {}) {
  const r = spawnSync('git', args, { encoding: 'utf8', ...options });
  if (r.error) throw new Error(`git could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** pristine/<crate> into dest/<crate> for every crate, without the manifest's omitted files. */
function copyPristine(dest) {
  const { crates, omit } = readManifest();
  for (const crate of Object.keys(crates)) {
    cpSync(join(pristineDir, crate), join(dest, crate), {
      recursive: true,
      filter: (src) => !omit.includes(relative(join(pristineDir, crate), src)),
    });
  }
}

/** A fresh tree of pristine + patches in dest (inside the repository, for git apply's paths). */
function buildTree(dest) {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  copyPristine(dest);
  const directory = relative(root, dest);
  for (const p of patchFiles()) {
    const r = spawnSync('git', ['apply', '--whitespace=nowarn', `--directory=${directory}`, join(patchesDir, p)], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`vendor/patches/${p} does not apply:\n${r.stderr}`);
  }
}

/**
 * Files that are not part of a tree: the stamp, and a crate's Cargo.lock and target/ (written by
 * `cargo test` in the crate: scripts/test.mjs runs tract-core's and tract-data's own tests there,
 * with its target elsewhere; a bare `cargo test` there put 890 MB of build output in a patch).
 */
const generated = (f) => f === '.stamp' || /^[^/]+\/(Cargo\.lock$|target(\/|$))/.test(f);

/** Differences between two trees: [relative path, 'changed' | 'only in a' | 'only in b']. */
function compareTrees(a, b) {
  const fa = new Set(files(a).filter((f) => !generated(f)));
  const fb = new Set(files(b).filter((f) => !generated(f)));
  const out = [];
  for (const f of fa) {
    if (!fb.has(f)) out.push([f, `only in ${relative(root, a)}`]);
    else if (!readFileSync(join(a, f)).equals(readFileSync(join(b, f)))) out.push([f, 'changed']);
  }
  for (const f of fb) if (!fa.has(f)) out.push([f, `only in ${relative(root, b)}`]);
  return out;
}

/**
 * Make `to` hold exactly the files of `from`, rewriting only the files whose bytes differ so that
 * Cargo rebuilds only what changed (it compares modification times).
 */
function syncTree(from, to) {
  mkdirSync(to, { recursive: true });
  const wanted = new Set(files(from));
  for (const f of files(to)) if (!wanted.has(f)) rmSync(join(to, f));
  for (const f of wanted) {
    const src = readFileSync(join(from, f));
    const dst = join(to, f);
    if (existsSync(dst) && readFileSync(dst).equals(src)) continue;
    mkdirSync(dirname(dst), { recursive: true });
    writeFileSync(dst, src);
  }
}

const scratch = () => join(vendor, `.patched-${process.pid}`);

/** Build vendor/patched/ unless its stamp says it is already pristine + patches. */
export function ensurePatched({ quiet = false } = {}) {
  const hash = inputsHash();
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === hash) return false;
  const tmp = scratch();
  try {
    buildTree(tmp);
    syncTree(tmp, patchedDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  writeFileSync(stampFile, `${hash}\n`);
  if (!quiet) console.log(`vendor/patched/: pristine tract + ${patchFiles().length} patches`);
  return true;
}

function check() {
  const tmp = scratch();
  try {
    buildTree(tmp);
    const diff = compareTrees(tmp, patchedDir);
    const stamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
    if (diff.length) {
      console.error(`vendor/patched/ is not pristine + patches (edits not saved with --save, or not built):`);
      for (const [f, what] of diff.slice(0, 40)) console.error(`  ${f}: ${what}`);
      process.exit(1);
    }
    if (stamp !== inputsHash()) {
      console.error('vendor/patched/ matches, but its stamp is stale: run node scripts/vendor.mjs');
      process.exit(1);
    }
    console.log(`ok: ${patchFiles().length} patches apply in order; vendor/patched/ is up to date`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A git repository in dir: one commit of the pristine crates, then one per patch (git am). */
function exportRepo(dir) {
  if (existsSync(dir) && readdirSync(dir).length) throw new Error(`${dir} is not empty`);
  mkdirSync(dir, { recursive: true });
  copyPristine(dir);
  const env = { ...process.env, GIT_AUTHOR_NAME: 'onnxlet', GIT_AUTHOR_EMAIL: 'onnxlet@users.noreply.github.com', GIT_COMMITTER_NAME: 'onnxlet', GIT_COMMITTER_EMAIL: 'onnxlet@users.noreply.github.com' };
  git(['init', '-q', '-b', 'patches'], { cwd: dir });
  git(['add', '-A'], { cwd: dir });
  git(['commit', '-q', '-m', `pristine tract ${readManifest().version}`], { cwd: dir, env });
  git(['tag', 'pristine'], { cwd: dir });
  const patches = patchFiles().map((p) => join(patchesDir, p));
  if (patches.length) git(['am', '-q', '--whitespace=nowarn', '--committer-date-is-author-date', ...patches], { cwd: dir, env });
  return env;
}

/** vendor/patches/ from the commits after the `pristine` tag of an exported repository. */
function importRepo(dir) {
  const out = mkdtempSync(join(tmpdir(), 'onnxlet-patches-'));
  try {
    git(['format-patch', '-q', '-N', '--zero-commit', '--no-signature', '-o', out, 'pristine..HEAD'], { cwd: dir });
    for (const p of patchFiles()) rmSync(join(patchesDir, p));
    for (const p of readdirSync(out)) cpSync(join(out, p), join(patchesDir, p));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  console.log(`vendor/patches/: ${patchFiles().length} patches from ${dir}`);
}

/** The edits made in vendor/patched/ since it was built, as the next patch of the series. */
function save(subject, body) {
  if (!existsSync(stampFile)) throw new Error('vendor/patched/ was never built: nothing to save');
  const dir = mkdtempSync(join(tmpdir(), 'onnxlet-vendor-'));
  try {
    const env = exportRepo(dir);
    for (const crate of Object.keys(readManifest().crates)) rmSync(join(dir, crate), { recursive: true, force: true });
    for (const crate of Object.keys(readManifest().crates)) {
      cpSync(join(patchedDir, crate), join(dir, crate), { recursive: true, filter: (src) => !generated(relative(patchedDir, src)) });
    }
    git(['add', '-A'], { cwd: dir });
    if (!git(['status', '--porcelain'], { cwd: dir }).trim()) throw new Error('vendor/patched/ has no edits to save');
    git(['commit', '-q', '-m', body ? `${subject}\n\n${body}` : subject], { cwd: dir, env });
    const n = String(patchFiles().length + 1).padStart(4, '0');
    const name = git(['format-patch', '-1', '-N', '--zero-commit', '--no-signature', `--start-number=${n}`, '-o', patchesDir, 'HEAD'], { cwd: dir }).trim();
    writeFileSync(stampFile, `${inputsHash()}\n`);
    console.log(`wrote ${relative(root, name)}${body ? '' : ' (add a body saying why: edit the file)'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Download every crate of the manifest at `version` into pristine/, recording the checksums. */
async function download(version, { write }) {
  const manifest = readManifest();
  const tmp = mkdtempSync(join(tmpdir(), 'onnxlet-crates-'));
  try {
    for (const crate of Object.keys(manifest.crates)) {
      const url = `https://static.crates.io/crates/${crate}/${crate}-${version}.crate`;
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: ${res.status}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(tmp, `${crate}.crate`), bytes);
      execFileSync('tar', ['xzf', `${crate}.crate`], { cwd: tmp });
      const unpacked = join(tmp, `${crate}-${version}`);
      if (write) {
        rmSync(join(pristineDir, crate), { recursive: true, force: true });
        renameSync(unpacked, join(pristineDir, crate));
        manifest.crates[crate] = { sha256, url };
      } else {
        const recorded = manifest.crates[crate].sha256;
        const diff = compareTrees(unpacked, join(pristineDir, crate));
        if (sha256 !== recorded || diff.length) {
          throw new Error(`${crate}: crates.io's ${sha256} vs manifest ${recorded}; ${diff.length} files differ from pristine/`);
        }
        console.log(`${crate} ${version}: sha256 ${sha256}, pristine/ identical`);
      }
    }
    if (write) {
      manifest.version = version;
      writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
      console.log(`vendor/pristine/: tract ${version}; now make the patches apply (vendor/README.md)`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const [mode, arg, ...rest] = process.argv.slice(2);
  try {
    if (!mode) ensurePatched() || console.log('vendor/patched/ is up to date');
    else if (mode === '--check') check();
    else if (mode === '--save' && arg) save(arg, rest[0] === '--body' ? rest[1] : undefined);
    else if (mode === '--export' && arg) {
      exportRepo(resolve(arg));
      console.log(`${arg}: tag pristine, then one commit per patch; edit, rebase, then --import ${arg}`);
    } else if (mode === '--import' && arg) {
      importRepo(resolve(arg));
      ensurePatched();
    } else if (mode === '--update' && arg) await download(arg, { write: true });
    else if (mode === '--verify') await download(readManifest().version, { write: false });
    else {
      console.error('usage: node scripts/vendor.mjs [--check | --save SUBJECT [--body TEXT] | --export DIR | --import DIR | --update VERSION | --verify]');
      process.exit(2);
    }
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
