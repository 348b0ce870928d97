#!/usr/bin/env bash
# Times the README's first command as a new user meets it: a new clone of this checkout, an
# engine of its own, a new cargo target directory and NuGet package folder; then
# `bash scripts/engine.sh`, `cargo build --release -p r2r` and `r2r run --scenario quick`, each
# timed, the rest of the machine left as it is. Prints the three times and the run's step
# times, and keeps the run's files in docs/data/first-command-<run-id>/ (with the times).
#
#   scripts/first-command.sh
#
# On a machine that already has Debian's docker.io, engine.sh only starts a dockerd (the
# install is not timed again); crates come from wherever cargo is configured to fetch them.
# Everything it makes (clone, engine data, target, packages) is removed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
work=$(mktemp -d /var/tmp/r2r-first.XXXXXX)
export DOCKER_HOST=unix://$work/run/docker.sock
export R2R_STATE_DIR=$work/state
export R2R_DOCKERD_ARGS="--data-root=$work/docker --exec-root=$work/exec"
export CARGO_TARGET_DIR=$work/target NUGET_PACKAGES=$work/nuget
mkdir -p "$work/run"
cleanup() {
  (cd "$work/clone" 2>/dev/null && bash scripts/engine.sh --stop >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT
git clone -q "$repo" "$work/clone"
cd "$work/clone"
seconds() { local start=$1; echo $(( $(date +%s%N) / 1000000 - start )); }
now() { echo $(( $(date +%s%N) / 1000000 )); }
t=$(now); bash scripts/engine.sh >"$work/engine.log" 2>&1; engine=$(seconds "$t")
t=$(now); cargo build --release -p r2r >"$work/build.log" 2>&1; build=$(seconds "$t")
t=$(now); "$CARGO_TARGET_DIR/release/r2r" run --scenario quick >"$work/run.log" 2>&1; run=$(seconds "$t")
result=$(readlink -f results/quick/latest)
keep="$repo/docs/data/first-command-$(basename "$result")"
mkdir -p "$keep"
for file in run.json sizes.csv startup.csv startup-runs.csv verify.json summary.json report.md; do
  [ -f "$result/$file" ] && cp "$result/$file" "$keep/"
done
{
  echo "engine.sh ${engine} ms; cargo build --release ${build} ms; r2r run --scenario quick ${run} ms"
  echo "commit $(git rev-parse --short HEAD); $(nproc) cores, kernel $(uname -r)"
} | tee "$keep/times.txt"
echo "first-command: kept in $keep"
