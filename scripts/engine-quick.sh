#!/usr/bin/env bash
# The quick scenario on one engine, as CI runs it on each engine r2r supports: `r2r run
# --scenario quick --runs 2 --cache warm` (build, verify, sizes, start-up with few runs, report)
# against the engine DOCKER_HOST names, into a results directory of its own. Prints one line:
#
#   ENGINE  build B/N  verify V/N  sizes ok|...  startup R runs ok  (engine, store, cgroup)
#     counted: peak memory P/R, bytes read B/R, major faults F/R  S s  (r2r exit X)
#
# and writes per image `image content_bytes tar_bytes gzip_bytes zstd_bytes engine_size_bytes`
# (tab-separated, bytes) to SIZES.tsv, for comparing engines (scripts/engine-compare.sh).
#
#   scripts/engine-quick.sh LABEL RESULTS-DIR SIZES.tsv
#
# Environment: DOCKER_HOST (the engine), R2R_TEST_BINARY (the r2r binary; default
# target/debug/r2r), R2R_QUICK_SCENARIO (default quick: another scenario of the same images, so
# that the tags others use on a shared engine are left alone). Exit 0 when every step passed,
# every run that was counted at all has all three counters and the run left no cgroup of its
# own behind; 1 otherwise (the end of the run's output is printed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ $# -eq 3 ] || { echo "usage: $0 LABEL RESULTS-DIR SIZES.tsv" >&2; exit 2; }
label=$1
results=$2
sizes_out=$3
r2r=${R2R_TEST_BINARY:-target/debug/r2r}
[ -x "$r2r" ] || { echo "engine-quick: no r2r binary at $r2r" >&2; exit 2; }
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

if python3 - "$run_dir" "$label" "$seconds" "$sizes_out" "$status" <<'PY'
import csv, json, os, sys
run, label, seconds, sizes_out, status = sys.argv[1:6]

def load(name, default=None):
    path = os.path.join(run, name)
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)

builds = load("build.json", [])
def build_status(build):
    status = build.get("status")
    return status.get("status") if isinstance(status, dict) else status
built = sum(1 for b in builds if build_status(b) in ("built", "up-to-date"))
verify = load("verify.json", [])
def passed(image):
    return all(check.get("passed") for check in image.get("checks", [])) and image.get("checks")
verified = sum(1 for v in verify if passed(v))
rows = []
sizes_path = os.path.join(run, "sizes.csv")
if os.path.exists(sizes_path):
    with open(sizes_path) as f:
        rows = list(csv.DictReader(f))
with open(sizes_out, "w") as out:
    for row in rows:
        out.write("\t".join([row["image"], row["content_bytes"], row["tar_bytes"], row["gzip_bytes"],
                             row["zstd_bytes"], row.get("engine_size_bytes", "")]) + "\n")
runs_ok = runs = 0
# The counters of each run (empty where not counted): where r2r counts a run at all (its peak
# memory), it counts bytes read and major faults too.
counters = ("peak_memory_bytes", "read_bytes", "major_faults")
counted = {name: 0 for name in counters}
partly = 0
runs_path = os.path.join(run, "startup-runs.csv")
if os.path.exists(runs_path):
    with open(runs_path) as f:
        for row in csv.DictReader(f):
            runs += 1
            runs_ok += row["ok"] == "true"
            present = [row.get(name, "") != "" for name in counters]
            for name, there in zip(counters, present):
                counted[name] += there
            partly += any(present) and not all(present)
engine = load("engine.json", {})
record = load("run.json", {})
steps = record.get("steps", {})
def step_status(name):
    return steps.get(name, {}).get("status", "missing")
print(f"{label}  build {built}/{len(builds)}  verify {verified}/{len(verify)}  "
      f"sizes {step_status('sizes')} ({len(rows)} images)  startup {runs_ok}/{runs} runs ok  "
      f"({engine.get('engine', '?')} {engine.get('version', '?')}, {engine.get('image_store') or engine.get('storage_driver', '?')}, "
      f"cgroup v{engine.get('cgroup_version') or '?'})  counted: peak memory {counted['peak_memory_bytes']}/{runs}, "
      f"bytes read {counted['read_bytes']}/{runs}, major faults {counted['major_faults']}/{runs}  "
      f"{seconds} s  (r2r exit {status})")
if partly:
    print(f"{label}: {partly} run(s) counted in part: a counter is missing where the others were read",
          file=sys.stderr)
    sys.exit(1)
PY
then
  counters_status=0
else
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
