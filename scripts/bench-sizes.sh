#!/usr/bin/env bash
# Compares r2r's size analysis with the plain pipeline `docker save IMAGE | gzip -6` on the
# same images: wall time and peak resident memory of each, both reading `docker save`.
# r2r does more (SHA-256 of every layer, a tar walk, gzip level 6 and zstd level 3).
#   scripts/bench-sizes.sh [R2R_BINARY] IMAGE...
# Default images: the sdk scenario's runtime-deps, aspnet and sdk images (build them with
# `r2r build --scenario sdk`). Needs GNU time (Debian's `time`), installed when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
r2r=target/release/r2r
if [ $# -gt 0 ] && [ -x "$1" ]; then r2r=$1; shift; fi
[ -x "$r2r" ] || cargo build --release -p r2r >/dev/null
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(r2r/sdk:no-composite-runtime-deps r2r/sdk:no-composite-aspnet r2r/sdk:no-composite-sdk)
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# label, a fixed pipeline, then its arguments -> "seconds peak_kib". The pipeline reads its
# arguments as "$1", "$2"...: image names and paths are never pasted into the shell text.
measure() {
  local pipeline=$2
  shift 2
  /usr/bin/time -f '%e %M' -o "$work/time" bash -c "$pipeline" measure "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cat "$work/time"
}

printf '%-36s %10s | %-22s | %-22s | %-22s\n' image "save MB" "docker save only" "save | gzip -6" "save | r2r sizes"
for image in "${images[@]}"; do
  bytes=$(docker save "$image" | wc -c)
  read -r save_s save_kib < <(measure save 'docker save -- "$1" > /dev/null' "$image")
  read -r gzip_s gzip_kib < <(measure gzip 'docker save -- "$1" | gzip -6 > /dev/null' "$image")
  read -r r2r_s r2r_kib < <(measure r2r 'docker save -- "$1" | "$2" measure sizes --archive /dev/stdin --output "$3" > /dev/null' "$image" "$r2r" "$work/out")
  printf '%-36s %10.1f | %7.2f s %8.1f MiB | %7.2f s %8.1f MiB | %7.2f s %8.1f MiB\n' "$image" "$(echo "$bytes / 1000000" | bc -l)" \
    "$save_s" "$(echo "$save_kib / 1024" | bc -l)" "$gzip_s" "$(echo "$gzip_kib / 1024" | bc -l)" "$r2r_s" "$(echo "$r2r_kib / 1024" | bc -l)"
done
echo "peak memory: the largest process of the pipeline (GNU time of the shell running it)"
