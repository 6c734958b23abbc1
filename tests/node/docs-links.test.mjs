// Every relative link in the project's Markdown (README, CONTRIBUTING, docs/, examples/, www/,
// bench/, tests/, scripts/) points at a file or directory that exists, and every `#anchor` at a
// heading of its target, as GitHub renders it. Links into the vendored tract crates' own docs
// are tract's and are not checked.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';

import { root } from '../support/models.mjs';

/**
 * The Markdown files checked: the project's own (tracked, or new and not ignored), outside
 * vendor/. Generated files such as bench/results/*.md are ignored by git, so not checked.
 */
function markdownFiles() {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
    cwd: root,
    encoding: 'utf8',
  });
  return listed
    .split('\n')
    .filter((f) => f && !f.startsWith('vendor/') && existsSync(join(root, f)))
    .map((f) => join(root, f));
}

/** The text outside fenced code blocks. */
const unfenced = (text) => text.replace(/^(```|~~~)[^]*?^\1/gm, '');
/** The text outside code, where links are links. */
const prose = (text) => unfenced(text).replace(/`[^`\n]*`/g, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

/** The anchors of a Markdown file's headings (repeated headings get `-1`, `-2`, … as on GitHub). */
function anchors(file) {
  const seen = new Map();
  const result = new Set();
  for (const [, heading] of unfenced(readFileSync(file, 'utf8')).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = slug(heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1'));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

/** Every link target of a file: inline links `[text](target)` and definitions `[label]: target`. */
function links(file) {
  const text = prose(readFileSync(file, 'utf8'));
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
  const defined = [...text.matchAll(/^\s*\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]);
  return [...inline, ...defined];
}

/** The links of `file` that resolve to nothing, or to no heading of their target. */
function brokenLinks(file) {
  const broken = [];
  for (const target of links(file)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
    const [path, anchor] = target.split('#');
    const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
    if (!existsSync(resolved)) {
      broken.push(`(${target}): no such file`);
    } else if (anchor !== undefined && resolved.endsWith('.md') && statSync(resolved).isFile() && !anchors(resolved).has(anchor)) {
      broken.push(`(${target}): no heading with this anchor`);
    }
  }
  return broken;
}

test('every relative link in the docs resolves, anchors included', () => {
  const files = markdownFiles();
  assert.ok(files.includes(join(root, 'README.md')) && files.length > 10, `found only ${files.length} Markdown files`);
  const broken = files.flatMap((file) => brokenLinks(file).map((b) => `${relative(root, file)}: ${b}`));
  assert.deepEqual(broken, []);
});

test('the check finds a missing file and a gone section, and follows GitHub anchors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnxlet-links-'));
  try {
    writeFileSync(join(dir, 'other.md'), '# Other\n\n## The `<script>` tag\n\n## Repeated\n\n## Repeated\n');
    const doc = join(dir, 'doc.md');
    writeFileSync(
      doc,
      [
        '# Doc', '', '## Size and speed', '',
        '[ok](#size-and-speed) [ok](other.md#the-script-tag) [ok](other.md#repeated-1) [ok](https://example.com/x)',
        '[gone](#two-builds) [missing](no-such.md) [gone](other.md#repeated-2)',
        '`[in code](nowhere.md)`', '```', '[in a block](nowhere.md)', '```',
      ].join('\n'),
    );
    assert.deepEqual(brokenLinks(doc), [
      '(#two-builds): no heading with this anchor',
      '(no-such.md): no such file',
      '(other.md#repeated-2): no heading with this anchor',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
