#!/usr/bin/env bash
# Knows r2r's own overhead: times `docker run --rm --network none IMAGE` with hyperfine and
# r2r's start-to-exit of the same console image (warm cache, same number of runs), and prints
# both medians and spreads side by side, plus the docker CLI's own floor (`docker version`),
# which hyperfine's figure includes and r2r, talking to the Engine API directly, does not.
#   scripts/bench-startup.sh [IMAGE] [RUNS]
# Default image: the quick scenario's baseline console app (build it with
# `r2r build --scenario quick`). Installs Debian's hyperfine when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
image=${1:-r2r/quick:no-composite-console}
runs=${2:-30}
# hyperfine runs its command through a shell: only the characters of an image reference may
# go into it.
case "$image" in
  ''|-*|*[!A-Za-z0-9._:/@-]*) echo "bench-startup: '$image' is not an image reference" >&2; exit 2 ;;
esac
case "$runs" in ''|*[!0-9]*) echo "bench-startup: RUNS must be a whole number, not '$runs'" >&2; exit 2 ;; esac
r2r=target/release/r2r
[ -x "$r2r" ] || cargo build --release -p r2r >/dev/null
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

hyperfine --warmup 3 --runs "$runs" --style none --export-json "$work/hyperfine.json" \
  "docker run --rm --network none $image" >/dev/null
# The docker CLI's own floor: process start, API negotiation and one request, no container.
hyperfine -N --warmup 3 --runs "$runs" --style none --export-json "$work/cli.json" \
  "docker version --format {{.Server.APIVersion}}" >/dev/null

# The same image as a one-image scenario for r2r.
name=$(echo "$image" | sed 's/^r2r\///; s/:.*//')
variant=$(echo "$image" | sed 's/.*://; s/-console$//')
"$r2r" measure startup --scenario "$name" --cache warm --runs "$runs" --warmup 3 --output "$work/r2r" >/dev/null
python3 - "$work/hyperfine.json" "$work/r2r/startup-runs.csv" "$variant.console" "$work/cli.json" <<'PY'
import csv, json, statistics, sys
hyper = [t * 1000 for t in json.load(open(sys.argv[1]))["results"][0]["times"]]
cli = [t * 1000 for t in json.load(open(sys.argv[4]))["results"][0]["times"]]
rows = [r for r in csv.DictReader(open(sys.argv[2])) if r["image"] == sys.argv[3] and r["ok"] == "true"]
r2r = [float(r["total_ms"]) for r in rows]
r2r_removed = [float(r["total_ms"]) + float(r["remove_ms"]) for r in rows]
def show(name, xs):
    q = statistics.quantiles(xs, n=4)
    print(f"{name:34} runs {len(xs):3}  median {statistics.median(xs):7.1f} ms  sd {statistics.stdev(xs):6.1f} ms  IQR {q[2]-q[0]:6.1f} ms")
show("hyperfine: docker run --rm", hyper)
show("hyperfine: docker version (CLI floor)", cli)
show("r2r: create + start to exit", r2r)
show("r2r: create + start to exit + remove", r2r_removed)
m_h = statistics.median(hyper)
for name, xs in (("start to exit", r2r), ("start to exit + remove", r2r_removed)):
    m = statistics.median(xs)
    print(f"r2r {name} median / hyperfine median = {m / m_h:.3f} ({(m - m_h) / m_h * 100:+.1f}%)")
m_c = m_h - statistics.median(cli)
m = statistics.median(r2r_removed)
print(f"r2r start to exit + remove / (hyperfine median - CLI floor) = {m / m_c:.3f} ({(m - m_c) / m_c * 100:+.1f}%)")
def mad(xs):
    m = statistics.median(xs)
    return statistics.median(abs(x - m) for x in xs)
print(f"spread (MAD): r2r {mad(r2r_removed):.1f} ms, hyperfine {mad(hyper):.1f} ms")
PY
