#!/usr/bin/env bash
# The test suite, as CI runs it: two halves at once. The fault suite (harness/r2r-faults, whose
# tests stop and start their engine) runs against a second engine of its own while every other
# test runs against the first; the prepared .NET content both use (base tarball, packs,
# composite, apps) is made once before they start.
#
#   scripts/test.sh [--full]
#
#   --full   also the tests marked as ignored: whole-scenario rebuilds of every variant and the
#            size reports with Native AOT (clang and zlib1g-dev are installed for them)
#
# Formatting (rustfmt) and clippy's lints are checked first; a warning fails the suite.
#
# Then the quick scenario (build, verify, sizes, start-up with 2 warm runs: `r2r run --scenario
# quick --runs 2 --cache warm`) on every engine r2r supports, one after the other: the default
# engine, Docker with the containerd image store and podman (scripts/engine.sh --engine ...,
# each in a Debian trixie root of its own, stopped afterwards), with the fault suite's
# least-privilege test against each, and the sizes compared: the same content bytes for the same
# image on every engine, gzip and zstd within 1% (scripts/test-engines.sh). R2R_TEST_ENGINES
# (default "docker docker-containerd podman") names the engines; empty skips this part.
#
# Exit 0 when both halves and every engine pass, 1 otherwise. The fault suite's output is printed
# after the other half's. Its engine keeps its state under /var/tmp/r2r-test-faults and
# /var/lib/r2r-test-faults, and is stopped at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

full=false
for argument in "$@"; do
  case "$argument" in
    --full) full=true ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "test: unknown argument '$argument' (allowed: --full)" >&2; exit 2 ;;
  esac
done
ignored=()
if $full; then
  ignored=(--include-ignored)
  bash scripts/test-tools.sh --aot
else
  bash scripts/test-tools.sh
fi
bash scripts/engine.sh

# The trixie root the other engines run in (minutes of Debian packages the first time) is made
# in the background while the suite builds and runs; the engine step waits for it.
root_log=$(mktemp)
root_maker=
case " ${R2R_TEST_ENGINES-docker docker-containerd podman} " in
  *" docker-containerd "* | *" podman "*)
    bash scripts/engine.sh --make-root >"$root_log" 2>&1 &
    root_maker=$!
    ;;
esac

# Lints first: unformatted code and clippy's warnings fail the suite (each skipped, with a note,
# where the toolchain lacks it).
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check
else
  echo "test: rustfmt is not installed; formatting not checked" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets --quiet -- -D warnings
else
  echo "test: clippy is not installed; lints not checked" >&2
fi

started=$(date +%s)
# One build for both halves (the fault suite's executable and the r2r binary the tests run are
# read from it); the fault suite's executable is then run directly, so the two halves never
# wait for each other's cargo.
executables=$(cargo test --workspace --no-run --message-format=json-render-diagnostics |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')
faults_exe=$(printf '%s\n' "$executables" | grep '/deps/faults-' | tail -n 1 || true)
r2r_exe=$(printf '%s\n' "$executables" | grep '/r2r$' | tail -n 1 || true)
[ -x "$faults_exe" ] || { echo "test: the fault suite's executable was not built" >&2; exit 1; }
[ -x "$r2r_exe" ] || { echo "test: the r2r binary was not built" >&2; exit 1; }
export R2R_TEST_BINARY="$r2r_exe"

# The prepared content, made once: the halves would otherwise make the same things at once.
scratch=$(mktemp -d)
R2R_RESULTS_DIR="$scratch/results" "$R2R_TEST_BINARY" build --scenario quick >"$scratch/prepare.log" 2>&1 || {
  cat "$scratch/prepare.log" >&2
  echo "test: preparing the quick scenario failed" >&2
  exit 1
}

# The fault suite's engine.
faults_env=(
  DOCKER_HOST=unix:///run/r2r-test-faults/docker.sock
  R2R_STATE_DIR=/var/tmp/r2r-test-faults
  "R2R_DOCKERD_ARGS=--data-root=/var/lib/r2r-test-faults --exec-root=/run/r2r-test-faults-exec"
)
mkdir -p /run/r2r-test-faults
stop_faults_engine() { env "${faults_env[@]}" bash scripts/engine.sh --stop >/dev/null 2>&1 || true; }
trap 'stop_faults_engine; rm -rf "$scratch"' EXIT

(
  env "${faults_env[@]}" bash scripts/engine.sh &&
    cd harness/r2r-faults && env "${faults_env[@]}" "$faults_exe" --test-threads=1 "${ignored[@]}"
) >"$scratch/faults.log" 2>&1 &
faults_pid=$!

set +e
cargo test --workspace --exclude r2r-faults --no-fail-fast -- --test-threads=1 "${ignored[@]}"
rest=$?
wait "$faults_pid"
faults=$?
set -e

echo "---- the fault suite (against its own engine) ----"
cat "$scratch/faults.log"

# The quick scenario on every engine, once their root is made.
engines=0
if [ -n "$root_maker" ] && ! wait "$root_maker"; then
  cat "$root_log" >&2
  echo "test: making the trixie root failed" >&2
  engines=1
fi
rm -f "$root_log"
R2R_FAULTS_EXE="$faults_exe" bash scripts/test-engines.sh "$scratch/engines" || engines=1

echo "test: every test but the fault suite: $([ $rest -eq 0 ] && echo passed || echo FAILED); the fault suite: $([ $faults -eq 0 ] && echo passed || echo FAILED); the quick scenario on every engine: $([ $engines -eq 0 ] && echo passed || echo FAILED); $(( $(date +%s) - started )) s"
[ $rest -eq 0 ] && [ $faults -eq 0 ] && [ $engines -eq 0 ]
