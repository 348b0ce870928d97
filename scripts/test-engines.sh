#!/usr/bin/env bash
# The quick scenario on every engine r2r supports, as scripts/test.sh runs it after the other
# tests: for each engine, `r2r run --scenario quick --runs 2 --cache warm` (build, verify, sizes,
# start-up with 2 warm runs; scripts/engine-quick.sh) and the least-privilege test of the fault
# suite against it; then the sizes compared across engines: the same content bytes for the same
# image, gzip and zstd within 1% (scripts/engine-compare.sh). The default engine is used as it
# is (DOCKER_HOST); the others are started with scripts/engine.sh --engine ... and stopped after.
#
#   scripts/test-engines.sh WORK-DIR
#
# Environment: R2R_TEST_ENGINES (default "docker docker-containerd podman"), R2R_TEST_BINARY
# (the r2r binary), R2R_FAULTS_EXE (the fault suite's test executable; without it the
# least-privilege test is skipped and said so), R2R_QUICK_SCENARIO (see engine-quick.sh).
# Prints one line per engine and the comparison; exit 0 when every engine passed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -eq 1 ] || { echo "usage: $0 WORK-DIR" >&2; exit 2; }
work=$1
mkdir -p "$work"

started=$(date +%s)
failed=0
compared=()
rows=()
for engine in ${R2R_TEST_ENGINES-docker docker-containerd podman}; do
  echo "---- the quick scenario on $engine ----"
  engine_started=$(date +%s)
  if [ "$engine" = docker ]; then
    host=${DOCKER_HOST:-unix:///var/run/docker.sock}
  elif started_engine=$(bash scripts/engine.sh --engine "$engine"); then
    echo "$started_engine"
    host=$(printf '%s\n' "$started_engine" | sed -n 's/^DOCKER_HOST=//p' | tail -n 1)
  else
    rows+=("$engine  the engine did not start")
    failed=1
    continue
  fi
  if row=$(DOCKER_HOST=$host bash scripts/engine-quick.sh "$engine" "$work/$engine"); then
    compared+=("$engine=$work/$engine/$(basename "${R2R_QUICK_SCENARIO:-quick}" .toml)/latest")
  else
    failed=1
  fi
  # Least privilege in every container, seen from inside and from the engine's side.
  if [ -z "${R2R_FAULTS_EXE:-}" ]; then
    row="$row  least privilege not checked (no R2R_FAULTS_EXE)"
  elif (cd harness/r2r-faults && DOCKER_HOST=$host "$R2R_FAULTS_EXE" --test-threads=1 --exact \
      hostile_containers::every_container_runs_with_least_privilege) >"$work/privileges-$engine.log" 2>&1; then
    row="$row  least privilege ok"
  else
    cat "$work/privileges-$engine.log"
    row="$row  least privilege FAILED"
    failed=1
  fi
  rows+=("$row  ($(( $(date +%s) - engine_started )) s in all)")
  [ "$engine" = docker ] || bash scripts/engine.sh --engine "$engine" --stop || true
done
if [ ${#compared[@]} -ge 2 ]; then
  bash scripts/engine-compare.sh "${compared[@]}" || failed=1
fi
[ ${#rows[@]} -eq 0 ] || printf 'engines: %s\n' "${rows[@]}"
echo "engines: $([ $failed -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - started )) s"
exit $failed
