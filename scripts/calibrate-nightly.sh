#!/usr/bin/env bash
# Calibration of the nightly comparison (an A/A test): nightly runs of unchanged images, each
# compared with the run before it (`scripts/nightly.sh --accept`, so the baseline moves on),
# must exit 0 every time: `compare --baseline` of two consecutive runs finds no regression
# where nothing changed. Prints each try's exit code and verdicts, "K of N", and the coverage
# of the paired interval in the rounds recorded (`r2r calibrate`, into calibration.csv).
#
#   scripts/calibrate-nightly.sh [--scenario quick|FILE] [--tries 5] [--runs 2] [--paired-runs 6] [--cache warm]
#
# Results go to a temporary results directory (R2R_RESULTS_DIR), never to results/. On an
# engine others use too, give a copy of the scenario under a name of its own (its own images).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

scenario=quick
tries=5
runs=2
paired=6
cache=warm
while [ $# -gt 0 ]; do
  case "$1" in
    --scenario) scenario=${2:?}; shift 2 ;;
    --tries) tries=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --paired-runs) paired=${2:?}; shift 2 ;;
    --cache) cache=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "calibrate-nightly: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

r2r_binary debug
export R2R_BIN=$r2r
need_jq
R2R_RESULTS_DIR=$(mktemp -d)
export R2R_RESULTS_DIR
name=$(basename "$scenario" .toml)
log="$R2R_RESULTS_DIR/calibration.log"
echo "calibrate-nightly: scenario $name, $tries tries, $runs runs, $paired paired rounds, cache $cache; results in $R2R_RESULTS_DIR"

nightly() {
  bash scripts/nightly.sh --scenario "$scenario" --runs "$runs" --paired-runs "$paired" --cache "$cache" "$@" >>"$log" 2>&1
}
started=$(date +%s)
nightly || { echo "calibrate-nightly: the first run (the baseline) failed; see $log" >&2; exit 2; }
passed=0
for try in $(seq 1 "$tries"); do
  set +e
  nightly --accept
  code=$?
  set -e
  # The start-up verdicts of the comparison the latest run got.
  verdicts=$("$R2R_BIN" show --scenario "$name" --json 2>/dev/null | jq -r '.compare_baseline[]
    | select(.metric | startswith("startup_")) | "\(.image) \(.metric) \(.change_percent)%; "' | tr -d '\n' || true)
  echo "try $try: exit $code ($verdicts)"
  [ "$code" -eq 0 ] && passed=$((passed + 1))
done
echo "calibrate-nightly: $passed of $tries consecutive comparisons exited 0 ($(( $(date +%s) - started )) s)"
# The coverage of the paired interval in the A/A rounds these comparisons recorded.
"$R2R_BIN" calibrate "$R2R_RESULTS_DIR" --rounds "$paired" --output "$R2R_RESULTS_DIR" || true
[ "$passed" -eq "$tries" ]
