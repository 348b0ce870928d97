#!/usr/bin/env bash
# Installs what the tests need beside the engine, when missing: Debian's chromium (the HTML
# report is checked in a headless browser) and fonts-dejavu-core (text in PNG plots).
# Idempotent; needs root and apt only when something is missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -eq 0 ]; then
  echo "test-tools: chromium and fonts-dejavu-core present"
  exit 0
fi
echo "test-tools: installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
