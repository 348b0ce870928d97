#!/usr/bin/env bash
# The nightly job: runs a scenario end to end, compares the run with the last accepted
# baseline, adds the run's headline metrics to the history, redraws the trend plots, and exits
# with compare's code (0 no regression, 1 a significant regression beyond the noise threshold,
# 2 an error).
#
#   scripts/nightly.sh [--scenario NAME] [--runs N] [--accept]
#
#   --scenario NAME  the scenario to run (default: quick)
#   --runs N         recorded start-up runs per image and cache mode (default: 10)
#   --accept         make this run the baseline after comparing (also after a regression:
#                    accepting is a decision, e.g. after an intended change)
#
# Files, under results/<scenario>/: `baseline` (a link to the accepted run; the first run
# becomes it), `history.csv` (run_id,image,metric,value), `trends/` (trend plots).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scenario=quick
runs=10
accept=false
while [ $# -gt 0 ]; do
  case "$1" in
    --scenario) scenario=${2:?--scenario needs a name}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --accept) accept=true; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "nightly: unknown argument '$1' (allowed: --scenario NAME, --runs N, --accept)" >&2; exit 2 ;;
  esac
done
case "$runs" in ''|*[!0-9]*) echo "nightly: --runs must be a whole number, not '$runs'" >&2; exit 2 ;; esac

cargo build --release -p r2r
r2r=target/release/r2r
bash scripts/engine.sh

# A run with failed images still has results worth comparing; an error (2+) does not.
set +e
"$r2r" run --scenario "$scenario" --runs "$runs"
run_code=$?
set -e
if [ "$run_code" -ge 2 ]; then
  echo "nightly: r2r run stopped with exit code $run_code" >&2
  exit "$run_code"
fi

results="results/$scenario"
run_dir=$(readlink -f "$results/latest")
run_id=$(basename "$run_dir")
history="$results/history.csv"

if [ ! -e "$results/baseline" ]; then
  echo "nightly: no baseline yet; run $run_id becomes the baseline"
  ln -sfn "$run_id" "$results/baseline"
fi
set +e
"$r2r" compare --scenario "$scenario" --run "$run_id" --baseline baseline --history "$history"
compare_code=$?
set -e
"$r2r" plot --format svg,png --trend "$history" --output "$results/trends"

if [ "$accept" = true ]; then
  ln -sfn "$run_id" "$results/baseline"
  echo "nightly: run $run_id accepted as the baseline"
fi
if [ "$compare_code" -ne 0 ]; then
  exit "$compare_code"
fi
exit $(( run_code == 0 ? 0 : 1 ))
