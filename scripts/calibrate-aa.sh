#!/usr/bin/env bash
# A/A calibration of the paired start-up comparison: one image under two tags, measured as
# baseline and candidate of a scenario, in REPEATS seeded repeats. With no difference to
# find, the 95% interval of the ratio must contain 1.00 in about 95% of the repeats; the
# script passes when at least MIN_COVERED of them do (default 9 of 10).
#   scripts/calibrate-aa.sh [R2R_BINARY]
# Environment: IMAGE (default r2r/quick:no-composite-console, built by
# `r2r build --scenario quick`), RUNS per repeat (default 8), REPEATS (default 10),
# CACHE (warm or cold, default warm), WARMUP (default 1), MIN_COVERED (default 9).
# A benchmark, not a unit test: it takes about REPEATS * (2 * (RUNS + WARMUP)) start-ups.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
r2r=target/debug/r2r
if [ $# -gt 0 ] && [ -x "$1" ]; then r2r=$1; shift; fi
[ -x "$r2r" ] || cargo build -p r2r >/dev/null
image=${IMAGE:-r2r/quick:no-composite-console}
runs=${RUNS:-8}
repeats=${REPEATS:-10}
cache=${CACHE:-warm}
warmup=${WARMUP:-1}
min_covered=${MIN_COVERED:-9}

docker image inspect "$image" >/dev/null 2>&1 || {
  echo "calibrate-aa: $image is not built (r2r build --scenario quick)" >&2
  exit 2
}

# A scenario of its own (its images are tagged r2r/<scenario>:...), whose two console images
# are both the one image: the first variant is the baseline, the second the candidate.
name="aa-calibration-$$"
work=$(mktemp -d)
scenario="$work/$name.toml"
cat >"$scenario" <<'TOML'
description = "A/A calibration: one image under two tags"
dotnet = "10.0.12"
base = "slim"
apps = ["console"]
variants = ["no-composite", "runtime-composite"]
measure = ["startup"]
TOML
tags=("r2r/$name:no-composite-console" "r2r/$name:runtime-composite-console")
cleanup() {
  for tag in "${tags[@]}"; do docker rmi "$tag" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
for tag in "${tags[@]}"; do docker tag "$image" "$tag"; done

echo "A/A: $image as ${tags[0]} and ${tags[1]}; $repeats repeats of $runs $cache runs each"
covered=0
started=$(date +%s)
for seed in $(seq 1 "$repeats"); do
  out="$work/seed-$seed"
  "$r2r" measure startup --scenario "$scenario" --cache "$cache" --runs "$runs" \
    --warmup "$warmup" --seed "$seed" --output "$out" >"$work/log" 2>&1 || {
    cat "$work/log" >&2
    echo "calibrate-aa: the measurement of seed $seed failed" >&2
    exit 2
  }
  line=$(python3 - "$out/startup.csv" "$cache" <<'PY'
import csv, sys
path, cache = sys.argv[1], sys.argv[2]
for row in csv.DictReader(open(path)):
    if row["image"] == "runtime-composite.console" and row["phase"] == "total" and row["cache"] == cache:
        low, high = float(row["paired_ci95_low"]), float(row["paired_ci95_high"])
        inside = "yes" if low <= 1.0 <= high else "NO"
        print(f'{inside} {row["paired_speedup"]} {low:.4f} {high:.4f} {row["paired_p_value"]} {row["paired_rounds"]}')
        break
else:
    print("NO nan nan nan nan 0")
PY
)
  read -r inside speedup low high p n <<<"$line"
  [ "$inside" = yes ] && covered=$((covered + 1))
  printf 'seed %2d: ratio %s, 95%% CI %s-%s, p = %s, n = %s, contains 1.00: %s\n' \
    "$seed" "$speedup" "$low" "$high" "$p" "$n" "$inside"
done
echo "intervals containing 1.00: $covered of $repeats (needed: $min_covered; $(($(date +%s) - started)) s)"
[ "$covered" -ge "$min_covered" ]
