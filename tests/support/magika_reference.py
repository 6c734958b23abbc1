"""The magika demo's test corpus and its reference labels from the real magika package.

    python3 tests/support/magika_reference.py corpus DIR   writes varied real files into DIR
    python3 tests/support/magika_reference.py label PATH…  prints magika 1.0.3's labels as JSON

`label` prints a list of {path, label, dl_label, score} in the order of the paths, computed by
`magika.Magika().identify_paths` (high-confidence mode, the package's defaults).
"""

import json
import random
import shutil
import struct
import sys
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Real files of this repository, copied as they are (path in the corpus: source).
REPO_FILES = {
    "fetch_models.py": "scripts/fetch-models.py",
    "demo.js": "www/common/demo.js",
    "package.json": "package.json",
    "README.md": "README.md",
    "index.html": "www/index.html",
    "sub/inference-session.ts": "js/inference-session.ts",
    "sub/lib.rs": "src/lib.rs",
}

SHELL_SCRIPT = """#!/bin/sh
# Rotates the logs in a directory, keeping the newest N of each.
set -eu

dir=${1:-/var/log/myapp}
keep=${2:-5}

rotate() {
    name=$1
    i=$keep
    while [ "$i" -gt 1 ]; do
        prev=$((i - 1))
        if [ -f "$dir/$name.$prev" ]; then
            mv "$dir/$name.$prev" "$dir/$name.$i"
        fi
        i=$prev
    done
    if [ -f "$dir/$name" ]; then
        cp "$dir/$name" "$dir/$name.1"
        : > "$dir/$name"
    fi
}

for log in "$dir"/*.log; do
    [ -e "$log" ] || continue
    rotate "$(basename "$log")"
    echo "rotated $log"
done
"""


def csv_text():
    rng = random.Random(3)
    cities = ["Lisbon", "Oslo", "Nairobi", "Lima", "Osaka", "Tunis", "Perth", "Quito"]
    lines = ["date,city,temperature_c,humidity_pct,wind_kmh"]
    for day in range(1, 61):
        city = rng.choice(cities)
        lines.append(f"2024-03-{(day % 28) + 1:02d},{city},{rng.uniform(-5, 35):.1f},{rng.randint(10, 100)},{rng.uniform(0, 60):.1f}")
    return "\n".join(lines) + "\n"


def png_bytes(width=64, height=48):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    pixel = lambda x, y: (x * 4 % 256, y * 5 % 256, (x + y) * 2 % 256)  # noqa: E731
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in pixel(x, y)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def pdf_bytes():
    stream = b"BT /F1 24 Tf 72 720 Td (Hello from the onnxlet magika test) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_corpus(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sub").mkdir(exist_ok=True)
    for name, source in REPO_FILES.items():
        shutil.copyfile(ROOT / source, directory / name)
    (directory / "weather.csv").write_text(csv_text())
    (directory / "rotate-logs.sh").write_text(SHELL_SCRIPT)
    (directory / "gradient.png").write_bytes(png_bytes())
    with zipfile.ZipFile(directory / "archive.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "Remember the milk.\n" * 20)
        archive.writestr("data/config.json", json.dumps({"name": "demo", "values": list(range(50))}))
    (directory / "hello.pdf").write_bytes(pdf_bytes())
    shutil.copyfile("/bin/true", directory / "true.elf")
    (directory / "tiny.txt").write_bytes(b"hi\n")
    (directory / "empty.dat").write_bytes(b"")
    (directory / "utf16.txt").write_bytes(("Unicode text saved as UTF-16: naïve café, 東京, Ελλάδα.\n" * 12).encode("utf-16"))
    (directory / "random.bin").write_bytes(random.Random(1234).randbytes(3000))
    (directory / "sub/mostly-spaces.txt").write_bytes(b"\n\n\t        ab")
    (directory / "sub/notes.txt").write_text("Meeting moved to Thursday.\nBring the projector and some snacks.\n")
    (directory / "sub/latin1.txt").write_bytes(b"caf\xe9!")
    # Below the medium-confidence threshold (0.5), and below latex's own threshold (0.95).
    (directory / "sub/reminder.md").write_bytes(b"# notes\nremember: *milk* and eggs\nthat's all")
    (directory / "sub/mixed.tex").write_bytes(b"<b>bold</b> and *md* and $x$ and \\emph{y}\n")


def label(paths):
    from magika import Magika

    results = Magika().identify_paths([Path(p) for p in paths])
    return [
        {
            "path": str(path),
            "label": str(result.prediction.output.label),
            "dl_label": str(result.prediction.dl.label),
            "score": float(result.prediction.score),
        }
        for path, result in zip(paths, results)
    ]


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "corpus":
        write_corpus(Path(sys.argv[2]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "label":
        json.dump(label(sys.argv[2:]), sys.stdout, indent=1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
