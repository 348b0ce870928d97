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
. scripts/lib.sh

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

r2r_binary debug
need_jq
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

# The console apps' start-up summaries of a measurement (r2r's sample sd and mean of the
# warm total time per image), sorted by image, as JSON.
console_rows() {
  "$r2r" show --run "$1" --json | jq '.startup
    | map(select(.app == "console" and .phase == "total" and .cache == "warm")) | sort_by(.image)'
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
  console_rows "$out/$index" >"$out/$index.json"
done

echo "start-up noise, scenario $scenario, warm cache, $runs runs per image, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
images=$(jq -r 'map("\(.image) sd (mean)") | join(" | ")' "$out/1.json")
printf '| measure | %s | mean sd | vs none |\n' "$images"
printf '|---|%s---|---|\n' "$(jq -r 'map("---|") | join("")' "$out/1.json")"
base=$(jq 'map(.stddev_ms) | add / length' "$out/1.json")
index=0
for config in "${configs[@]}"; do
  index=$((index + 1))
  name=${config%%|*}
  # Per image "sd mean", then the mean of the sds and its change against no measure, percent.
  read -r -a numbers < <(jq -r --argjson base "$base" '(map(.stddev_ms) | add / length) as $mean
    | [(.[] | .stddev_ms, .mean_ms), $mean, ($mean / $base - 1) * 100] | map(tostring) | join(" ")' "$out/$index.json")
  count=${#numbers[@]}
  row="| $name |"
  for ((i = 0; i + 2 < count; i += 2)); do
    row+=$(printf ' %.1f ms (%.0f) |' "${numbers[i]}" "${numbers[i + 1]}")
  done
  printf '%s %.1f ms | %+.0f%% |\n' "$row" "${numbers[count - 2]}" "${numbers[count - 1]}"
done
