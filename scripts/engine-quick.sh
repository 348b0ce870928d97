#!/usr/bin/env bash
# The quick scenario on one engine, as CI runs it on each engine r2r supports: `r2r run
# --scenario quick --runs 2 --cache warm` (build, verify, sizes, start-up with few runs, report)
# against the engine DOCKER_HOST names, into a results directory of its own. Prints one line:
#
#   ENGINE  build B/N  verify V/N  sizes ok|...  startup R runs ok  (engine, store, cgroup)
#     counted: peak memory P/R, bytes read B/R, major faults F/R  S s  (r2r exit X)
#
# The run directory is RESULTS-DIR/<scenario>/latest: scripts/engine-compare.sh compares its
# sizes with other engines'. The counts come from r2r (`r2r show`).
#
#   scripts/engine-quick.sh LABEL RESULTS-DIR
#
# Environment: DOCKER_HOST (the engine), R2R_TEST_BINARY (the r2r binary; default
# target/debug/r2r), R2R_QUICK_SCENARIO (default quick: another scenario of the same images, so
# that the tags others use on a shared engine are left alone). Exit 0 when every step passed,
# every run that was counted at all has all three counters and the run left no cgroup of its
# own behind; 1 otherwise (the end of the run's output is printed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ $# -eq 2 ] || { echo "usage: $0 LABEL RESULTS-DIR" >&2; exit 2; }
label=$1
results=$2
r2r=${R2R_TEST_BINARY:-target/debug/r2r}
[ -x "$r2r" ] || { echo "engine-quick: no r2r binary at $r2r" >&2; exit 2; }
command -v jq >/dev/null 2>&1 || { echo "engine-quick: needs jq (apt-get install jq)" >&2; exit 2; }
mkdir -p "$results"
log="$results/run.log"

# The cgroups r2r makes for counting (`r2r-*` under each controller): a run leaves none behind.
cgroups() { find /sys/fs/cgroup -maxdepth 2 -type d -name 'r2r-*' 2>/dev/null | sort; }
cgroups_before=$(cgroups)

started=$(date +%s)
status=0
scenario=${R2R_QUICK_SCENARIO:-quick}
"$r2r" --results-dir "$results" run --scenario "$scenario" --runs 2 --cache warm >"$log" 2>&1 || status=$?
seconds=$(( $(date +%s) - started ))
left=$(comm -13 <(printf '%s\n' "$cgroups_before") <(cgroups) | sed '/^$/d')

run_dir="$results/$(basename "$scenario" .toml)/latest"
if [ ! -d "$run_dir" ]; then
  cat "$log" >&2
  echo "$label  no run directory (r2r exit $status)  ${seconds} s"
  exit 1
fi

# What the run holds, by r2r: images built and verified, sizes, recorded runs and how many had
# each counter, the engine.
"$r2r" show --run "$run_dir" --json >"$results/view.json"
jq -r --arg machine "$label" --arg seconds "$seconds" --arg status "$status" '
  .startup_runs_total as $runs | (.engine // {}) as $engine
  | "\($machine)  build \(.builds.passed)/\(.builds.total)  verify \(.verify.passed)/\(.verify.total)  "
  + "sizes \(.run.steps.sizes.status // "missing") (\(.sizes | length) images)  startup \($runs.ok)/\($runs.runs) runs ok  "
  + "(\($engine.engine // "?") \($engine.version // "?"), \($engine.image_store // $engine.storage_driver // "?"), "
  + "cgroup v\($engine.cgroup_version // "?"))  counted: peak memory \($runs.peak_memory_counted)/\($runs.runs), "
  + "bytes read \($runs.read_bytes_counted)/\($runs.runs), major faults \($runs.major_faults_counted)/\($runs.runs)  "
  + "\($seconds) s  (r2r exit \($status))"' "$results/view.json"
# Where r2r counts a run at all (its peak memory), it counts bytes read and major faults too.
partly=$(jq '.startup_runs_total.partly_counted' "$results/view.json")
counters_status=0
if [ "$partly" -gt 0 ]; then
  echo "$label: $partly run(s) counted in part: a counter is missing where the others were read" >&2
  counters_status=1
fi
if [ -n "$left" ]; then
  echo "$label: the run left $(printf '%s\n' "$left" | wc -l) cgroup(s) behind:" >&2
  printf '%s\n' "$left" | head -n 5 >&2
  counters_status=1
fi
if [ "$status" != 0 ]; then
  tail -n 60 "$log" >&2
  exit 1
fi
exit $counters_status
