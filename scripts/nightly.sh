#!/usr/bin/env bash
# The nightly job: runs a scenario end to end, then `r2r nightly`: compares the run with the
# last accepted baseline, adds the run's headline metrics to the history, redraws the trend
# plots, and exits with its code (0 no regression, 1 a significant regression beyond the noise
# threshold or an image that failed a step of the run, 2 an error).
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
# The baseline rules are r2r's (`r2r nightly --help`): the first run becomes the baseline and
# its app images are kept under `<tag>-baseline`; sizes are compared with the baseline run's
# files (they are exact); start-up in paired rounds of the kept images and this run's.
#
# Files, under ${R2R_RESULTS_DIR:-results}/<scenario>/: `baseline` (a link to the accepted run),
# `history.csv` (run_id,image,metric,value,dotnet), `trends/` (trend plots). R2R_BIN runs
# another r2r binary (default: a release build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

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
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "nightly: unknown argument '$1' (allowed: --scenario NAME, --runs N, --paired-runs N, --cache MODE, --accept)" >&2; exit 2 ;;
  esac
done
case "$runs" in ''|*[!0-9]*) echo "nightly: --runs must be a whole number, not '$runs'" >&2; exit 2 ;; esac
case "$paired" in ''|*[!0-9]*) echo "nightly: --paired-runs must be a whole number, not '$paired'" >&2; exit 2 ;; esac
cache_args=()
[ -n "$cache" ] && cache_args=(--cache "$cache")

r2r_binary release
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

nightly_args=(--scenario "$scenario" --paired-runs "$paired")
[ -n "$cache" ] && nightly_args+=(--paired-cache "$cache")
[ "$accept" = true ] && nightly_args+=(--accept)
exec "$r2r" nightly "${nightly_args[@]}"
