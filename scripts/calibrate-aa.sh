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
. scripts/lib.sh
if [ $# -gt 0 ] && [ -x "$1" ]; then R2R_BIN=$1; shift; fi
r2r_binary debug
need_jq
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
  # The candidate's paired figures against the baseline (total time, this cache mode); r2r's
  # verdict `no-difference` is an interval that contains 1.
  line=$("$r2r" show --run "$out" --json | jq -r --arg cache "$cache" '
    [.startup[] | select(.image == "runtime-composite.console" and .phase == "total" and .cache == $cache)][0]
    | if . == null then "NO nan nan nan nan 0" else
      (if .paired_verdict == "no-difference" then "yes" else "NO" end)
      + " \(.paired_speedup) \(.paired_ci95_low) \(.paired_ci95_high) \(.paired_p_value) \(.paired_rounds)" end')
  read -r inside speedup low high p n <<<"$line"
  [ "$inside" = yes ] && covered=$((covered + 1))
  printf 'seed %2d: ratio %s, 95%% CI %s-%s, p = %s, n = %s, contains 1.00: %s\n' \
    "$seed" "$speedup" "$low" "$high" "$p" "$n" "$inside"
done
echo "intervals containing 1.00: $covered of $repeats (needed: $min_covered; $(($(date +%s) - started)) s)"
[ "$covered" -ge "$min_covered" ]
