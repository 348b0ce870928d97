#!/usr/bin/env bash
# Installs what the tests need beside the engine, when missing: Debian's chromium (the HTML
# report is checked in a headless browser), fonts-dejavu-core (text in PNG plots), and clang
# with zlib1g-dev (Native AOT links with them; the size-report scenarios publish Native AOT).
# Idempotent; needs root and apt only when something is missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
if [ ${#need[@]} -eq 0 ]; then
  echo "test-tools: chromium, fonts-dejavu-core, clang and zlib1g-dev present"
  exit 0
fi
echo "test-tools: installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
