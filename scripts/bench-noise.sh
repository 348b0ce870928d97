#!/usr/bin/env bash
# The noise-reduction table: the standard deviation of the console apps' start-up (create to
# exit, warm cache) without any measure, and with each measure alone and all together, from one
# invocation. Each configuration is one `r2r measure startup` of the scenario's console images
# (same seed, same runs); the configurations run one after another, so drift of the machine
# between them is in the comparison too.
#
#   scripts/bench-noise.sh [--scenario quick|FILE] [--runs 10] [--cpus 1] [--pause-ms 200]
#
# On an engine others use too, give a copy of the scenario under another name (images of
# its own, e.g. /tmp/noise.toml), so that nobody else's r2r removes its containers.
#
# Measures: discarding the first round (--warmup 1), the app on its own CPU and r2r off it
# (--cpuset), an idle wait before every run (--pause-ms), host networking for the console app
# instead of none (--console-network host; no network namespace to create).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scenario=quick
runs=10
cpus=
pause=200
while [ $# -gt 0 ]; do
  case "$1" in
    --scenario) scenario=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --cpus) cpus=${2:?}; shift 2 ;;
    --pause-ms) pause=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench-noise: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [ -z "$cpus" ]; then
  # The last CPU for the app, the others for r2r.
  cpus=$(( $(nproc) - 1 ))
fi

r2r=${R2R_BIN:-target/debug/r2r}
[ -x "$r2r" ] || cargo build -p r2r
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$r2r" build --scenario "$scenario" >/dev/null

configs=(
  "none|--warmup 0"
  "first round discarded|--warmup 1"
  "cpuset $cpus (r2r off it)|--warmup 0 --cpuset $cpus"
  "idle ${pause} ms before each run|--warmup 0 --pause-ms $pause"
  "console on host network|--warmup 0 --console-network host"
  "all but host network|--warmup 1 --cpuset $cpus --pause-ms $pause"
)

# sd (sample) and mean of total_ms per image of a startup-runs.csv: "image mean sd n" lines.
stats() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["ok"] == "true" && $col["app"] == "console" {
      x = $col["total_ms"]; n[$1]++; s[$1] += x; q[$1] += x * x }
    END { for (k in n) { m = s[k] / n[k]; v = n[k] > 1 ? (q[k] - n[k] * m * m) / (n[k] - 1) : 0;
      printf "%s %.1f %.1f %d\n", k, m, sqrt(v > 0 ? v : 0), n[k] } }' "$1" | sort
}

index=0
for config in "${configs[@]}"; do
  name=${config%%|*}
  flags=${config#*|}
  index=$((index + 1))
  # shellcheck disable=SC2086
  "$r2r" measure startup --scenario "$scenario" --cache warm --runs "$runs" --seed 7 $flags \
    --output "$out/$index" >/dev/null 2>"$out/$index.log" || {
    # 1: some runs failed (they are left out of the statistics); 2 and above: an error.
    code=$?; [ "$code" -eq 1 ] || { cat "$out/$index.log" >&2; exit "$code"; }
  }
  stats "$out/$index/startup-runs.csv" >"$out/$index.stats"
done

echo "start-up noise, scenario $scenario, warm cache, $runs runs per image, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| measure | %s | mean sd | vs none |\n' "$(awk '{printf "%s sd (mean) | ", $1}' "$out/1.stats" | sed 's/ | $//')"
printf '|---|%s---|---|\n' "$(awk '{printf "---|"}' "$out/1.stats")"
base=$(awk '{s += $3; n++} END {printf "%.2f", s / n}' "$out/1.stats")
index=0
for config in "${configs[@]}"; do
  index=$((index + 1))
  name=${config%%|*}
  cells=$(awk '{printf "%.1f ms (%.0f) | ", $3, $2}' "$out/$index.stats" | sed 's/ | $//')
  mean=$(awk '{s += $3; n++} END {printf "%.2f", s / n}' "$out/$index.stats")
  change=$(awk -v a="$mean" -v b="$base" 'BEGIN {printf "%+.0f%%", (a / b - 1) * 100}')
  printf '| %s | %s | %.1f ms | %s |\n' "$name" "$cells" "$mean" "$change"
done
