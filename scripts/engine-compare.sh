#!/usr/bin/env bash
# Compares the sizes of the same images measured on several engines (SIZES.tsv files written by
# scripts/engine-quick.sh): the content bytes (files as the engine accounts them) must be equal,
# and gzip and zstd within 1% of the first engine's. Prints one line per image and engine.
#
#   scripts/engine-compare.sh LABEL=SIZES.tsv LABEL=SIZES.tsv [...]
#
# Exit 0 when every image of the first file is on every other engine with equal content bytes and
# compressed sizes within 1%; 1 otherwise.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 LABEL=SIZES.tsv LABEL=SIZES.tsv [...]" >&2; exit 2; }
python3 - "$@" <<'PY'
import sys
tables = []
for argument in sys.argv[1:]:
    label, path = argument.split("=", 1)
    rows = {}
    with open(path) as f:
        for line in f:
            image, content, tar, gzip, zstd, engine_size = line.rstrip("\n").split("\t")
            rows[image] = dict(content=int(content), tar=int(tar), gzip=int(gzip), zstd=int(zstd),
                               engine=int(engine_size) if engine_size else None)
    tables.append((label, rows))
base_label, base = tables[0]
failures = 0
if not base:
    print(f"compare: {base_label} measured no image")
    failures += 1
for image in sorted(base):
    reference = base[image]
    for label, rows in tables[1:]:
        row = rows.get(image)
        if row is None:
            print(f"compare: {image}: not measured on {label}")
            failures += 1
            continue
        gzip_gap = 100.0 * (row["gzip"] - reference["gzip"]) / reference["gzip"]
        zstd_gap = 100.0 * (row["zstd"] - reference["zstd"]) / reference["zstd"]
        same = row["content"] == reference["content"]
        ok = same and abs(gzip_gap) <= 1.0 and abs(zstd_gap) <= 1.0
        failures += not ok
        print(f"compare: {image}: {label} vs {base_label}: content {row['content']} vs {reference['content']} "
              f"({'equal' if same else 'DIFFERENT'}), tar {row['tar']} vs {reference['tar']}, "
              f"gzip {gzip_gap:+.3f}%, zstd {zstd_gap:+.3f}%, engine size {row['engine']} vs {reference['engine']}"
              f"{'' if ok else '  FAIL'}")
print(f"compare: {'the same sizes on every engine' if failures == 0 else f'{failures} difference(s)'}")
sys.exit(1 if failures else 0)
PY
