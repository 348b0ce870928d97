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
# Each row also gives the CPU time of the command's own processes (user + system) and, when
# the engine is the host dockerd scripts/engine.sh started, the CPU time dockerd spent
# meanwhile (the export is mostly its work): with both, a row's wall time can be
# set against what two cores could do at best.
# Defaults: the composite scenario, 3 runs, R2R_BIN or a release build (scripts/lib.sh).
# Needs GNU time (Debian's `time`) and jq, installed when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh
scenario=composite
runs=3
gzip_row=1
while [ $# -gt 0 ]; do
  case $1 in
    --scenario) scenario=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --no-gzip) gzip_row=0; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) R2R_BIN=$1; shift ;;
  esac
done
r2r_binary release
need_jq
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The scenario's images as r2r exports them: the first tag of each image of the plan.
mapfile -t images < <("$r2r" plan --scenario "$scenario" --json | jq -r '.images[].tags[0]')
for image in "${images[@]}"; do
  docker image inspect "$image" >/dev/null 2>&1 || { echo "$image is not built (r2r build --scenario $scenario)" >&2; exit 1; }
done

# A fixed pipeline, then its arguments -> "seconds peak_kib" on stdout. The pipeline reads its
# arguments as "$1", "$2"...: image names and paths are never pasted into the shell text.
# The engine's daemon, when it is the host dockerd scripts/engine.sh started (its pid file) and
# DOCKER_HOST does not name another engine: its CPU ticks (user + system) so far.
dockerd_pid=
pidfile=${R2R_STATE_DIR:-/var/tmp/r2r}/dockerd.pid
if [ "${DOCKER_HOST:-unix:///var/run/docker.sock}" = unix:///var/run/docker.sock ] && [ -r "$pidfile" ]; then
  dockerd_pid=$(cat "$pidfile")
  [ "$(cat "/proc/$dockerd_pid/comm" 2>/dev/null)" = dockerd ] || dockerd_pid=
fi
ticks_per_second=$(getconf CLK_TCK)
dockerd_ticks() {
  [ -n "$dockerd_pid" ] && awk '{ print $14 + $15 }' "/proc/$dockerd_pid/stat" 2>/dev/null || echo -
}
# "seconds peak_kib cpu_seconds dockerd_cpu_seconds" on stdout (the last "-" when unknown).
measure() {
  local pipeline=$1 before after
  shift
  before=$(dockerd_ticks)
  /usr/bin/time -f '%e %M %U %S' -o "$work/time" bash -c "$pipeline" measure "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  after=$(dockerd_ticks)
  local seconds kib user system
  read -r seconds kib user system <"$work/time"
  local engine=-
  if [ "$before" != - ] && [ "$after" != - ]; then
    engine=$(echo "($after - $before) / $ticks_per_second" | bc -l)
  fi
  echo "$seconds $kib $(echo "$user + $system" | bc -l) $engine"
}
save='docker save -- "$@" > /dev/null'
gzip='docker save -- "$@" | gzip -6 > /dev/null'
# $1 the r2r binary, $2 the work directory (the cache under it), $3 the results root.
sizes='R2R_WORK_DIR=$2 "$1" --results-dir "$3" measure sizes --scenario "$4" --output "$3/out"'
run_sizes() { measure "$sizes" "$r2r" "$work/work" "$work/results" "$scenario"; }

declare -A walls peaks cpus engines
record() { # row, "seconds kib cpu_seconds dockerd_cpu_seconds"
  local seconds kib cpu engine
  read -r seconds kib cpu engine <<<"$2"
  walls[$1]+="$seconds "
  cpus[$1]+="$cpu "
  [ "$engine" = - ] || engines[$1]+="$engine "
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

# The median of numbers on stdin, by r2r.
median() { "$r2r" show --describe - --field median; }
floor=$(echo "${walls[floor]}" | median)
echo "scenario $scenario: ${#images[@]} images, a $(echo "$stream / 1000000" | bc -l | xargs printf '%.0f') MB docker save stream; $runs run(s) of each, in turn"
echo "load before: $load_before"
echo "load after:  $load_after"
printf '%-46s | %13s | %8s | %9s | %12s | %11s | %s\n' command "wall (median)" "× floor" "CPU (own)" "CPU (dockerd)" "peak memory" "every run (s)"
row() { # row key, label
  [ -n "${walls[$1]:-}" ] || return 0
  local wall engine=–
  wall=$(echo "${walls[$1]}" | median)
  if [ -n "${engines[$1]:-}" ]; then engine=$(printf '%.2f s' "$(echo "${engines[$1]}" | median)"); fi
  printf '%-46s | %11.2f s | %7.2f× | %7.2f s | %13s | %7.1f MiB | %s\n' "$2" "$wall" "$(echo "$wall / $floor" | bc -l)" \
    "$(echo "${cpus[$1]}" | median)" "$engine" "$(echo "${peaks[$1]} / 1024" | bc -l)" "${walls[$1]}"
}
row floor "docker save IMAGES > /dev/null (the floor)"
row cold "r2r measure sizes (cache empty)"
row warm "r2r measure sizes, second run (cache warm)"
row gzip "docker save IMAGES | gzip -6 > /dev/null"
echo "CPU: medians of user + system seconds, of the command's own processes and of dockerd during it"
echo "peak memory: the largest process of the pipeline (GNU time of the shell running it)"
