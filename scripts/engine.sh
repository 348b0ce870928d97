#!/usr/bin/env bash
# Makes sure a Docker engine answers, for r2r and its tests.
#   scripts/engine.sh          start one if none answers (installs Debian's docker.io if needed)
#   scripts/engine.sh --stop   stop the engine this script started
# The engine is started as `dockerd --bridge=none --iptables=false`: no bridge network is made,
# so containers run with `--network none` or the host's network only.
set -euo pipefail
state="${R2R_STATE_DIR:-/var/tmp/r2r}"
mkdir -p "$state"
pidfile="$state/dockerd.pid"
log="$state/dockerd.log"

engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if [ "${1:-}" = "--stop" ]; then
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    rm -f "$pidfile"
    echo "engine: stopped dockerd ($pid)"
  else
    echo "engine: no dockerd started by this script is running"
  fi
  exit 0
fi

if engine_answers; then
  echo "engine: $(docker version --format 'Docker {{.Server.Version}}, API {{.Server.APIVersion}}') answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
  echo "engine: DOCKER_HOST=$DOCKER_HOST does not answer, and it is not a local socket this script can start" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "engine: dockerd is not installed; run this script as root to install Debian's docker.io" >&2
    exit 1
  fi
  echo "engine: installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >"$state/apt.log" 2>&1 || {
    tail -20 "$state/apt.log" >&2; exit 1; }
fi
if [ "$(id -u)" != 0 ]; then
  echo "engine: starting dockerd needs root" >&2
  exit 1
fi

echo "engine: starting dockerd --bridge=none --iptables=false (log: $log)"
nohup dockerd --bridge=none --iptables=false >"$log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 120); do
  if engine_answers; then
    echo "engine: $(docker version --format 'Docker {{.Server.Version}}, API {{.Server.APIVersion}}') is up"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
  sleep 0.5
done
echo "engine: dockerd did not answer within 60 s; last lines of $log:" >&2
tail -20 "$log" >&2
exit 1
