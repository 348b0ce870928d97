#!/usr/bin/env bash
# Runs a local image registry (Debian's docker-registry package) on 127.0.0.1 only, for
# measuring the compressed sizes a registry really stores.
#   scripts/registry.sh [PORT]    start it if it does not answer (default port 5000)
#   scripts/registry.sh --stop    stop the registry this script started
# Storage lives under ${R2R_STATE_DIR:-/var/tmp/r2r}/registry.
set -euo pipefail
state="${R2R_STATE_DIR:-/var/tmp/r2r}"
mkdir -p "$state"
pidfile="$state/registry.pid"

if [ "${1:-}" = "--stop" ]; then
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")" && rm -f "$pidfile" && echo "registry: stopped"
  else
    echo "registry: none started by this script is running"
  fi
  exit 0
fi

port="${1:-5000}"
answers() { ( exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /v2/ HTTP/1.0\r\n\r\n' >&3 && head -c 12 <&3 | grep -q 'HTTP/1.. 200' ) 2>/dev/null; }

if answers; then
  echo "registry: answers on 127.0.0.1:$port"
  exit 0
fi
if ! command -v docker-registry >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "registry: docker-registry is not installed; run this script as root to install it" >&2; exit 1; }
  echo "registry: installing Debian's docker-registry"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >"$state/registry-apt.log" 2>&1 || {
    tail -20 "$state/registry-apt.log" >&2; exit 1; }
fi
config="$state/registry.yml"
cat >"$config" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $state/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
nohup docker-registry serve "$config" >"$state/registry.log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 40); do
  if answers; then echo "registry: up on 127.0.0.1:$port"; exit 0; fi
  sleep 0.25
done
echo "registry: did not answer on 127.0.0.1:$port; last lines of $state/registry.log:" >&2
tail -20 "$state/registry.log" >&2
exit 1
