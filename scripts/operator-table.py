#!/usr/bin/env python3
"""Write docs/operators.md: ONNX operator support measured by the backend node tests.

Reads the node test manifest written by scripts/make-node-tests.py and one or
more results files written by the conformance harnesses (one per run, e.g.
native and wasm), and renders one table row per ONNX operator. Also writes
src/verified_opsets.rs, the opset range at which each operator passes its node
tests in every run, which `supported_operators()` reports.

Usage: python3 scripts/operator-table.py [RESULTS.json ...] [--manifest PATH] [--out PATH] [--check]
Without results files, the tract engine's .cache/conformance/results-*.json are used (not the
lite engine's results-lite.json and results-wasm-lite.json: its passes are listed in
tests/conformance/expected-pass-lite.txt, and its operators report no opsets). --check
exits 1 if either file would change (the date line is ignored).
"""

import argparse
import datetime
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

from onnxlet_data import CACHE_DIR, REPO_ROOT, node_tests_dir, run

DEFAULT_OUT = REPO_ROOT / "docs" / "operators.md"
RUST_OUT = REPO_ROOT / "src" / "verified_opsets.rs"
FULL_BUILD_RS = REPO_ROOT / "src" / "full_build.rs"
RESULTS_DIR = CACHE_DIR / "conformance"
DATE_PREFIX = "Generated on "
STATUSES = ("pass", "fail", "error", "skip")
MAX_MESSAGE = 80


class TableError(Exception):
    pass


def shown_path(path):
    """A path as written in the document: repo-relative when inside the repo."""
    path = Path(path).resolve()
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def load_json(path, what):
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise TableError(f"cannot read {what} {path}: {e.strerror}") from None
    except ValueError as e:
        raise TableError(f"{what} {path} is not valid JSON: {e}") from None


def load_results(paths, manifest_names):
    runs = []
    for path in paths:
        res = load_json(path, "results file")
        if not isinstance(res.get("cases"), dict) or not res.get("run"):
            raise TableError(f"{path}: expected {{\"run\": ..., \"cases\": {{...}}}}")
        if any(r["run"] == res["run"] for r in runs):
            raise TableError(f"{path}: run '{res['run']}' is given twice")
        unknown = sorted(set(res["cases"]) - manifest_names)
        if unknown:
            print(
                f"warning: {path}: {len(unknown)} case(s) not in the manifest, ignored "
                f"(e.g. {unknown[0]}); is the manifest up to date?",
                file=sys.stderr,
            )
        runs.append(res)
    return runs


# --- categorising why a case did not pass ------------------------------------------------


def code_span(text):
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def plain(text):
    return text.replace("|", "\\|").replace("<", "&lt;").replace("*", "\\*")


def parse_number(token):
    token = token.strip().rstrip(",;)")
    try:
        return float(token)  # accepts inf, nan, Infinity, NaN, 1e-3
    except ValueError:
        return None


def value_error(message):
    """Error metrics found in a wrong-values message: {"rel": x} / {"abs": x} / {"nonfinite": True}."""
    m = re.search(r"\bis (\S+) instead of (\S+)", message)
    if m:
        got, want = parse_number(m.group(1)), parse_number(m.group(2))
        if got is not None and want is not None:
            if not (math.isfinite(got) and math.isfinite(want)):
                return {"nonfinite": True}
            if want != 0:
                return {"rel": abs(got - want) / abs(want)}
            return {"abs": abs(got - want)}
    m = re.search(r"max(?:imum)?[ _]?(rel|abs)\w*(?:[ _]err(?:or)?)?\s*[:=]?\s*(\S+)", message, re.I)
    if m:
        x = parse_number(m.group(2))
        if x is not None:
            return {"nonfinite": True} if not math.isfinite(x) else {m.group(1).lower(): x}
    m = re.search(r"\babs err(?:or)?\s*[:=]?\s*(\S+)", message)
    if m and (x := parse_number(m.group(1))) is not None:
        return {"nonfinite": True} if not math.isfinite(x) else {"abs": x}
    return {}


def wrong_values_label(details):
    rels = [d["rel"] for d in details if "rel" in d]
    abss = [d["abs"] for d in details if "abs" in d]
    parts = []
    if rels:
        parts.append(f"max rel err {max(rels):.1e}")
    elif abss:
        parts.append(f"max abs err {max(abss):.1e}")
    if any(d.get("nonfinite") for d in details):
        parts.append("NaN/inf")
    return "wrong values" + (f" ({', '.join(parts)})" if parts else "")


def clean_message(message):
    """A tract/onnxlet error message without its case-specific noise, for grouping."""
    s = " ".join(message.split())
    # Panic locations: keep crate and file, drop the registry path and line numbers.
    s = re.sub(r"\S*/(tract-[a-z-]+?)-\d[\w.]*/(\S+?\.rs):\d+(?::\d+)?", r"\1/\2", s)
    # The JS wrapper's explanation after a wasm trap is the same every time.
    s = re.sub(r"; it has been reset and sessions created before the crash are released.*$", "", s)
    s = re.sub(r"index out of bounds: the len is \d+ but the index is \d+", "index out of bounds", s)
    generic_prefixes = [
        r"preparing the model for input shapes [^:]*: ",
        r"not a valid ONNX model: ",
        r"(?:Translating|Failed analyse for|Evaluating|Running|Wiring|Optimizing|Declutter\w*) "
        r"(?:node )?#\d+ \"[^\"]*\" [^:]*: ",
        r"Node \S+ \(\w+\): ",
        r"Infering facts: ",
    ]
    stripped = True
    while stripped:
        stripped = False
        for p in generic_prefixes:
            new = re.sub("^" + p, "", s)
            if new != s and new:
                s, stripped = new, True
    s = re.sub(r"^Node \S+ \(\w+\), attribute '([^']+)': ", r"attribute \1: ", s)
    s = re.sub(r"#\d+ \"[^\"]*\"", "#…", s)
    s = re.sub(r"at node '[^']*'", "at node …", s)
    s = re.sub(r"\[\s*\d+(?:\s*,\s*\d+)*\s*\]", "[…]", s)
    s = re.sub(r"\b(?:\d+,)+(?=[A-Za-z?])", "…,", s)
    if len(s) > MAX_MESSAGE:
        s = s[: MAX_MESSAGE - 1].rstrip() + "…"
    return s


def error_label(code, message, op):
    if code == "UNSUPPORTED_OPERATOR":
        named = sorted({m for m in re.findall(r"(\w+) \(domain ", message)} - {op})
        return "unsupported operator" + (f" ({', '.join(named)})" if named else "")
    text = clean_message(message)
    m = re.match(r"^Unsupported (?:[A-Z]\w* )?([a-z_]+)[: ]\s*(\S+)$", text)
    if m:
        return plain(f"unsupported attribute {m.group(1)}={m.group(2)}")
    m = re.match(r"^attribute (\w+): (.*)$", text)
    if m:
        return plain(f"attribute {m.group(1)}: ") + code_span(m.group(2))
    prefix = {
        "INVALID_MODEL": "",
        "RUNTIME_ERROR": "at run: ",
        "INVALID_INPUT": "input: ",
    }.get(code, f"{code or 'error'}: ")
    return plain(prefix) + code_span(text)


def categorise(result, case):
    """(group label, detail) of a case that did not pass; detail only for wrong values."""
    if result is None:
        return "not run", None
    status, message = result.get("status"), result.get("message") or ""
    if status == "skip":
        for kind in ("inputs", "outputs"):
            for v in (v for d in case["datasets"] for v in d[kind]):
                if "unsupported" in v:
                    return plain(f"unsupported {kind[:-1]} type {v['unsupported']}"), None
        return "skipped" + (": " + code_span(clean_message(message)) if message else ""), None
    if status == "fail":
        if re.search(r"\d+ outputs, expected \d+", message):
            return "wrong number of outputs", None
        if re.search(r"shape \[.*\] != expected", message):
            return "wrong output shape", None
        m = re.search(r"type (\S+) != expected (\S+)", message)
        if m:
            return plain(f"wrong output type ({m.group(1)} instead of {m.group(2)})"), None
        return "wrong values", value_error(message)
    if status == "error":
        return error_label(result.get("code"), message, case["op"]), None
    return plain(f"status {status!r}"), None


def run_notes(groups):
    """`N × label` items, most frequent first."""
    items = []
    for key, details in groups.items():
        label = wrong_values_label(details) if key == "wrong values" else key
        items.append((len(details), label))
    items.sort(key=lambda x: (-x[0], x[1]))
    return [f"{n} × {label}" for n, label in items]


def notes(per_run):
    """Notes of one operator; items differing between runs are prefixed by the run name."""
    lists = {run: run_notes(groups) for run, groups in per_run.items()}
    runs = list(lists)
    common = [i for i in lists[runs[0]] if all(i in lists[r] for r in runs[1:])]
    parts = list(common)
    for run in runs:
        parts += [f"{run}: {i}" for i in lists[run] if i not in common]
    return "; ".join(parts)


def full_only_operators():
    """The operators only the full build has: FULL_ONLY_OPERATORS in src/full_build.rs (which the
    tests keep equal to the full build's registry minus the default build's)."""
    text = FULL_BUILD_RS.read_text()
    m = re.search(r"FULL_ONLY_OPERATORS: &\[&str\] = &\[(.*?)\];", text, re.S)
    if not m:
        raise TableError(f"{shown_path(FULL_BUILD_RS)}: FULL_ONLY_OPERATORS not found")
    return set(re.findall(r'"(\w+)"', m.group(1)))


# --- the document ---------------------------------------------------------------------------


def fraction(passed, total):
    return f"{passed} / {total}" if total else "–"


def percent(passed, total):
    return f"{100 * passed / total:.1f}%" if total else "–"


def render(manifest, runs, command, today):
    cases = manifest["cases"]
    by_op = defaultdict(list)
    for c in cases:
        by_op[(c["domain"], c["op"])].append(c)
    run_names = [r["run"] for r in runs]
    n_plain = sum(not c["expanded"] for c in cases)
    full_only = full_only_operators()

    rows = []
    for (domain, op) in sorted(by_op, key=lambda k: (k[0], k[1].lower(), k[1])):
        ops_cases = by_op[(domain, op)]
        plain_cases = [c for c in ops_cases if not c["expanded"]]
        expanded_cases = [c for c in ops_cases if c["expanded"]]
        cells = [domain, op, "full" if op in full_only else ""]
        exp_cells = []
        per_run = {}
        for run in runs:
            res = run["cases"]
            passed = sum(res.get(c["name"], {}).get("status") == "pass" for c in plain_cases)
            cells.append(fraction(passed, len(plain_cases)))
            exp_passed = sum(res.get(c["name"], {}).get("status") == "pass" for c in expanded_cases)
            exp_cells.append(fraction(exp_passed, len(expanded_cases)))
            groups = defaultdict(list)
            for c in plain_cases:
                r = res.get(c["name"])
                if r is None or r.get("status") != "pass":
                    key, detail = categorise(r, c)
                    groups[key].append(detail or {})
            per_run[run["run"]] = groups
        opsets = sorted({c["opset"] for c in plain_cases if c.get("opset") is not None})
        span = "–" if not opsets else str(opsets[0]) if opsets[0] == opsets[-1] else f"{opsets[0]}–{opsets[-1]}"
        rows.append(cells + exp_cells + [span, notes(per_run) if runs else ""])

    out = [
        "# ONNX operator support",
        "",
        "<!-- Generated by scripts/operator-table.py; do not edit by hand. -->",
        "",
        f"Generated by `{command}` from the backend node tests of onnx {manifest['onnx']} "
        f"({manifest['count']} cases: {n_plain} plus {manifest['count'] - n_plain} `_expanded` variants, "
        f"{len(by_op)} operators).",
        "",
        f"{DATE_PREFIX}{today}.",
        "",
        "| Run | onnxlet | Passed | Passed incl. expanded |",
        "| --- | --- | --- | --- |",
    ]
    for run in runs:
        res = run["cases"]
        passed_all = sum(res.get(c["name"], {}).get("status") == "pass" for c in cases)
        passed_plain = sum(
            res.get(c["name"], {}).get("status") == "pass" for c in cases if not c["expanded"]
        )
        out.append(
            f"| {plain(run['run'])} | {plain(str(run.get('onnxlet', '?')))} "
            f"| {passed_plain} / {n_plain} ({percent(passed_plain, n_plain)}) "
            f"| {passed_all} / {len(cases)} ({percent(passed_all, len(cases))}) |"
        )
    out += [
        "",
        "Legend:",
        "",
        "- One row per operator; each ONNX node test exercises one operator.",
        "- The runs use the full build. **Build** `full`: the operator is only in the full build "
        "(`onnxlet_full_bg.wasm`, `env.wasm.build = 'full'`); the default build "
        "(`onnxlet_bg.wasm`) rejects it with `UNSUPPORTED_OPERATOR` naming the full build.",
        f"- **{' / '.join(run_names) or 'run'}**: node tests of the operator passed / total in that run, "
        "not counting the `_expanded` variants.",
        "- **… exp.**: the `_expanded` variants (the operator's function body expanded into "
        "other operators) passed / total; – when the operator has no function body.",
        "- **Opsets**: lowest–highest opset among the operator's (non-expanded) tests.",
        "- **Notes**: why the non-expanded tests that did not pass failed, grouped, with counts; "
        "an item prefixed by a run name applies to that run only. `unsupported operator`: "
        "onnxlet rejects the model; `unsupported input/output type`: the test feeds or expects a "
        "type onnxlet cannot exchange (skipped); `wrong values`: ran, but outside the test's "
        "rtol/atol (worst error among the group); `code` text: the start of the error message.",
        "",
    ]
    header = ["Domain", "Operator", "Build"] + run_names + [f"{r} exp." for r in run_names] + ["Opsets", "Notes"]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join(" --- " for _ in header) + "|")
    for row in rows:
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out) + "\n"


def verified_opsets(manifest, runs):
    """(domain, op, lowest, highest opset) of the non-expanded cases that pass in every run."""
    ranges = {}
    for case in manifest["cases"]:
        if case["expanded"] or not all(r["cases"].get(case["name"], {}).get("status") == "pass" for r in runs):
            continue
        key = (case["domain"], case["op"])
        low, high = ranges.get(key, (case["opset"], case["opset"]))
        ranges[key] = (min(low, case["opset"]), max(high, case["opset"]))
    return sorted((domain, op, low, high) for (domain, op), (low, high) in ranges.items())


def render_rust(manifest, runs, command):
    rows = "".join(
        f'    ("{domain}", "{op}", {low}, {high}),\n' for domain, op, low, high in verified_opsets(manifest, runs)
    )
    return (
        f"//! Generated by `{command}`; do not edit.\n"
        f"//! (domain, operator, lowest opset, highest opset) at which onnxlet passes the operator's\n"
        f"//! onnx {manifest['onnx']} backend node tests in every run ({', '.join(r['run'] for r in runs)}).\n"
        "\n"
        "pub(crate) const VERIFIED_OPSETS: &[(&str, &str, u32, u32)] = &[\n"
        f"{rows}"
        "];\n"
    )


def update(path, text, check, compare=lambda a, b: a == b):
    """Writes `text` to `path` if it changed; with `check`, only reports. Returns whether it was current."""
    try:
        old = path.read_text()
    except OSError:
        old = None
    current = old is not None and compare(old, text)
    if check:
        print(f"{shown_path(path)} is {'up to date' if current else 'out of date'}", file=sys.stdout if current else sys.stderr)
    elif not current:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return current


def without_date(text):
    return [line for line in text.splitlines() if not line.startswith(DATE_PREFIX)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "results", nargs="*", help="results files (default: the tract runs' .cache/conformance/results-*.json)"
    )
    parser.add_argument("--manifest", help="node test index.json (default: .cache/onnx-node-tests/index.json)")
    parser.add_argument("--out", help="output file (default: docs/operators.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the document would change")
    args = parser.parse_args()

    manifest_path = Path(args.manifest) if args.manifest else node_tests_dir() / "index.json"
    manifest = load_json(manifest_path, "manifest")
    if "cases" not in manifest:
        raise TableError(f"{manifest_path}: not a node test manifest; run python3 scripts/make-node-tests.py")
    results = [Path(p) for p in args.results] or sorted(
        p for p in RESULTS_DIR.glob("results-*.json") if "lite" not in p.stem
    )
    if not results:
        raise TableError(f"no results files given and none in {shown_path(RESULTS_DIR)}; run the conformance tests")
    runs = load_results(results, {c["name"] for c in manifest["cases"]})
    out_path = Path(args.out) if args.out else DEFAULT_OUT

    command = ["python3", "scripts/operator-table.py"] + [shown_path(p) for p in results]
    if args.manifest:
        command += ["--manifest", shown_path(manifest_path)]
    if args.out and out_path.resolve() != DEFAULT_OUT:
        command += ["--out", shown_path(out_path)]
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    text = render(manifest, runs, " ".join(command), today)

    rust = render_rust(manifest, runs, " ".join(command))
    same_but_date = lambda a, b: without_date(a) == without_date(b)  # noqa: E731
    current = [update(out_path, text, args.check, same_but_date), update(RUST_OUT, rust, args.check)]
    if args.check:
        if not all(current):
            print(f"run: {' '.join(command)}", file=sys.stderr)
            sys.exit(1)
        return
    print(f"{shown_path(out_path)}, {shown_path(RUST_OUT)}: {len(runs)} run(s)")


if __name__ == "__main__":
    run(main, TableError, "operator-table")
