#!/usr/bin/env bash
# Installs what the tests need beside the engine, when missing: Debian's chromium (the HTML
# report is checked in a headless browser), fonts-dejavu-core (text in PNG plots) and
# debootstrap (the local bases and the other engines' trixie root), docker-registry and wrk (the
# registry a new node pulls from, and the load generator). With
# --aot also clang and zlib1g-dev, which Native AOT links with: only the full suite's
# size-report tests publish Native AOT.
# Idempotent; needs root and apt only when something is missing.
set -euo pipefail
aot=false
for argument in "$@"; do
  case "$argument" in
    --aot) aot=true ;;
    *) echo "test-tools: unknown argument '$argument' (allowed: --aot)" >&2; exit 2 ;;
  esac
done
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if $aot; then
  command -v clang >/dev/null 2>&1 || need+=(clang)
  [ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
fi
if [ ${#need[@]} -eq 0 ]; then
  echo "test-tools: everything needed is present"
  exit 0
fi
echo "test-tools: installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
