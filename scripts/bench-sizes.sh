#!/usr/bin/env bash
# How fast r2r measures sizes against the engine's own export, on a scenario's images (they
# must be built; nothing is built or removed here). Four rows, each command timed RUNS times
# in turn (wall time median, and the largest peak resident memory):
#   docker save IMAGES > /dev/null             the floor: the engine's export alone
#   r2r measure sizes, cold                    the sizes step with an empty layer cache
#   r2r measure sizes, second run              the same again, the cache warm
#   docker save IMAGES | gzip -6 > /dev/null   the naive pipeline
# r2r does more than gzip: SHA-256 of every layer, a tar walk, gzip level 6 and zstd level 3,
# and the anatomy of every assembly. Its results, cache and lock go to a temporary directory
# (never the project's results/ or work directory).
#   scripts/bench-sizes.sh [--scenario NAME] [--runs N] [--no-gzip] [R2R_BINARY]
# Defaults: the composite scenario, 3 runs, target/release/r2r (built when missing). Needs
# GNU time (Debian's `time`), installed when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scenario=composite
runs=3
gzip_row=1
r2r=target/release/r2r
while [ $# -gt 0 ]; do
  case $1 in
    --scenario) scenario=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --no-gzip) gzip_row=0; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) r2r=$1; shift ;;
  esac
done
[ -x "$r2r" ] || cargo build --release -p r2r >/dev/null
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The scenario's images as r2r exports them: the first tag of each image of the plan.
mapfile -t images < <("$r2r" plan --scenario "$scenario" --json |
  python3 -c 'import json, sys; print("\n".join(i["tags"][0] for i in json.load(sys.stdin)["images"]))')
for image in "${images[@]}"; do
  docker image inspect "$image" >/dev/null 2>&1 || { echo "$image is not built (r2r build --scenario $scenario)" >&2; exit 1; }
done

# A fixed pipeline, then its arguments -> "seconds peak_kib" on stdout. The pipeline reads its
# arguments as "$1", "$2"...: image names and paths are never pasted into the shell text.
measure() {
  local pipeline=$1
  shift
  /usr/bin/time -f '%e %M' -o "$work/time" bash -c "$pipeline" measure "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cat "$work/time"
}
save='docker save -- "$@" > /dev/null'
gzip='docker save -- "$@" | gzip -6 > /dev/null'
# $1 the r2r binary, $2 the work directory (the cache under it), $3 the results root.
sizes='R2R_WORK_DIR=$2 "$1" --results-dir "$3" measure sizes --scenario "$4" --output "$3/out"'
run_sizes() { measure "$sizes" "$r2r" "$work/work" "$work/results" "$scenario"; }

declare -A walls peaks
record() { # row, "seconds kib"
  local seconds kib
  read -r seconds kib <<<"$2"
  walls[$1]+="$seconds "
  if [ -z "${peaks[$1]:-}" ] || [ "$kib" -gt "${peaks[$1]}" ]; then peaks[$1]=$kib; fi
}
stream=$(docker save -- "${images[@]}" | wc -c)
load_before=$(uptime)
for ((run = 1; run <= runs; run++)); do
  record floor "$(measure "$save" "${images[@]}")"
  rm -rf "$work/work"
  record cold "$(run_sizes)"
  record warm "$(run_sizes)"
  if [ "$gzip_row" = 1 ]; then record gzip "$(measure "$gzip" "${images[@]}")"; fi
done
load_after=$(uptime)

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
floor=$(echo "${walls[floor]}" | median)
echo "scenario $scenario: ${#images[@]} images, a $(echo "$stream / 1000000" | bc -l | xargs printf '%.0f') MB docker save stream; $runs run(s) of each, in turn"
echo "load before: $load_before"
echo "load after:  $load_after"
printf '%-46s | %13s | %8s | %11s | %s\n' command "wall (median)" "× floor" "peak memory" "every run (s)"
row() { # row key, label
  [ -n "${walls[$1]:-}" ] || return 0
  local wall
  wall=$(echo "${walls[$1]}" | median)
  printf '%-46s | %11.2f s | %7.2f× | %7.1f MiB | %s\n' "$2" "$wall" "$(echo "$wall / $floor" | bc -l)" \
    "$(echo "${peaks[$1]} / 1024" | bc -l)" "${walls[$1]}"
}
row floor "docker save IMAGES > /dev/null (the floor)"
row cold "r2r measure sizes (cache empty)"
row warm "r2r measure sizes, second run (cache warm)"
row gzip "docker save IMAGES | gzip -6 > /dev/null"
echo "peak memory: the largest process of the pipeline (GNU time of the shell running it)"
