#!/usr/bin/env bash
# The nightly job: runs a scenario end to end, compares the run with the last accepted
# baseline, adds the run's headline metrics to the history, redraws the trend plots, and exits
# with compare's code (0 no regression, 1 a significant regression beyond the noise threshold,
# 2 an error).
#
#   scripts/nightly.sh [--scenario NAME] [--runs N] [--paired-runs N] [--cache MODE] [--accept]
#
#   --scenario NAME    the scenario to run (default: nightly, the quick scenario on the newest
#                      .NET 10 patch; a name or a scenario file)
#   --runs N           recorded start-up runs per image and cache mode (default: 10)
#   --paired-runs N    paired rounds of the baseline's and this run's images, measured together
#                      after the run (default: 10; 0: compare the two runs' files only, a
#                      start-up verdict that never fails the job)
#   --cache MODE       cold, warm or both (default: r2r's: both where root can drop the cache)
#   --accept           make this run the baseline after comparing (also after a regression:
#                      accepting is a decision, e.g. after an intended change)
#
# Sizes are compared with the baseline run's files (they are exact). Start-up is compared in
# one run: the baseline's app images are kept under `<tag>-baseline` when a run becomes the
# baseline (`r2r keep-baseline`), and `r2r compare --paired-runs` measures them and this run's
# images in the same shuffled rounds, so the machine's drift cancels.
#
# Files, under ${R2R_RESULTS_DIR:-results}/<scenario>/: `baseline` (a link to the accepted run;
# the first run becomes it), `history.csv` (run_id,image,metric,value,dotnet), `trends/` (trend
# plots). R2R_BIN runs another r2r binary (default: a release build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scenario=nightly
runs=10
paired=10
cache=
accept=false
while [ $# -gt 0 ]; do
  case "$1" in
    --scenario) scenario=${2:?--scenario needs a name}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --paired-runs) paired=${2:?--paired-runs needs a number}; shift 2 ;;
    --cache) cache=${2:?--cache needs cold, warm or both}; shift 2 ;;
    --accept) accept=true; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "nightly: unknown argument '$1' (allowed: --scenario NAME, --runs N, --paired-runs N, --cache MODE, --accept)" >&2; exit 2 ;;
  esac
done
case "$runs" in ''|*[!0-9]*) echo "nightly: --runs must be a whole number, not '$runs'" >&2; exit 2 ;; esac
case "$paired" in ''|*[!0-9]*) echo "nightly: --paired-runs must be a whole number, not '$paired'" >&2; exit 2 ;; esac
cache_args=()
[ -n "$cache" ] && cache_args=(--cache "$cache")

if [ -n "${R2R_BIN:-}" ]; then
  r2r=$R2R_BIN
else
  cargo build --release -p r2r
  r2r=target/release/r2r
fi
bash scripts/engine.sh

# A run with failed images still has results worth comparing; an error (2+) does not.
set +e
"$r2r" run --scenario "$scenario" --runs "$runs" "${cache_args[@]}"
run_code=$?
set -e
if [ "$run_code" -ge 2 ]; then
  echo "nightly: r2r run stopped with exit code $run_code" >&2
  exit "$run_code"
fi

name=$(basename "$scenario" .toml)
results="${R2R_RESULTS_DIR:-results}/$name"
run_dir=$(readlink -f "$results/latest")
run_id=$(basename "$run_dir")
history="$results/history.csv"

first=false
if [ ! -e "$results/baseline" ]; then
  first=true
  echo "nightly: no baseline yet; run $run_id becomes the baseline"
  ln -sfn "$run_id" "$results/baseline"
  "$r2r" keep-baseline --scenario "$name" --run "$run_id" || true
fi
paired_args=()
if [ "$paired" -gt 0 ] && [ "$first" = false ]; then
  paired_args=(--paired-runs "$paired")
  [ -n "$cache" ] && paired_args+=(--paired-cache "$cache")
fi
set +e
"$r2r" compare --scenario "$name" --run "$run_id" --baseline baseline --history "$history" "${paired_args[@]}"
compare_code=$?
set -e
"$r2r" plot --format svg,png --trend "$history" --output "$results/trends"

if [ "$accept" = true ]; then
  ln -sfn "$run_id" "$results/baseline"
  "$r2r" keep-baseline --scenario "$name" --run "$run_id" || true
  echo "nightly: run $run_id accepted as the baseline"
fi
if [ "$compare_code" -ne 0 ]; then
  exit "$compare_code"
fi
exit $(( run_code == 0 ? 0 : 1 ))
