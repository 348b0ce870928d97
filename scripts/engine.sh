#!/usr/bin/env bash
# Makes sure a Docker engine answers, for r2r and its tests. Idempotent.
#
#   scripts/engine.sh          if `docker info` answers (DOCKER_HOST is honoured), say which engine
#                              and stop there; otherwise install Debian's docker.io when dockerd is
#                              missing (root, apt), start `dockerd --bridge=none --iptables=false`
#                              in the background and wait up to 60 s for it to answer.
#   scripts/engine.sh --stop   stop the dockerd this script started (found by its pid file) and
#                              wait for it to exit. An engine started some other way is left alone.
#
# No bridge network and no iptables rules are made: containers run with `--network none` (or the
# host's network). State lives in ${R2R_STATE_DIR:-/var/tmp/r2r}: dockerd.log, dockerd.pid.
#
# Environment:
#   DOCKER_HOST       a unix:// socket to check and, if nothing answers there, to start dockerd on
#                     (tcp:// and other engines are only checked, never started).
#   R2R_STATE_DIR     where the log and pid file go (default /var/tmp/r2r).
#   R2R_DOCKERD_ARGS  extra dockerd arguments, split on spaces, e.g. "--data-root=/x --exec-root=/y"
#                     to run a second engine beside one that already runs.
set -euo pipefail

prog=engine
state="${R2R_STATE_DIR:-/var/tmp/r2r}"
pidfile="$state/dockerd.pid"
log="$state/dockerd.log"
wait_seconds=60

say() { echo "$prog: $*"; }
die() { echo "$prog: error: $*" >&2; exit 1; }

# `docker info` with a time limit, so a hung socket does not hang the script.
engine_answers() {
  command -v docker >/dev/null 2>&1 && timeout 15 docker info >/dev/null 2>&1
}

describe_engine() {
  local where="${DOCKER_HOST:-unix:///var/run/docker.sock}"
  timeout 15 docker version --format "Docker Engine {{.Server.Version}} (API {{.Server.APIVersion}}, minimum API {{.Server.MinAPIVersion}}; client {{.Client.Version}}) at $where" 2>/dev/null ||
    echo "an engine at $where (docker version failed)"
}

# The pid in our pid file, if that process still runs.
our_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Only a dockerd: a stale pid file must not make us signal an unrelated process.
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

stop_engine() {
  local pid
  if ! pid=$(our_pid); then
    say "no dockerd started by this script is running (pid file $pidfile)"
    return 0
  fi
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  # dockerd stops its containers (10 s each by default) and its containerd before it exits.
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; say "dockerd (pid $pid) has exited"; return 0; }
    sleep 0.5
  done
  die "dockerd (pid $pid) did not exit within 60 s after SIGTERM; see $log"
}

install_docker() {
  [ "$(id -u)" = 0 ] || die "dockerd is not installed, and installing Debian's docker.io needs root: run this script as root (or install docker.io yourself)"
  command -v apt-get >/dev/null 2>&1 || die "dockerd is not installed and there is no apt-get to install docker.io with"
  say "dockerd is not installed: installing Debian's docker.io (apt log: $state/apt.log)"
  # Keep the package's service from starting on install: that dockerd would make the docker0
  # bridge and iptables rules. invoke-rc.d and deb-systemd-invoke both honour policy-rc.d.
  local policy=/usr/sbin/policy-rc.d made_policy=no
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# Temporary, by r2r scripts/engine.sh: no service starts while docker.io installs.\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=yes
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local status=0
  {
    apt-get update &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io
  } >"$state/apt.log" 2>&1 || status=$?
  if [ "$made_policy" = yes ]; then
    rm -f "$policy"
    trap - EXIT
  fi
  if [ "$status" != 0 ]; then
    tail -n 25 "$state/apt.log" >&2
    die "installing docker.io failed (exit $status); full log in $state/apt.log"
  fi
  command -v dockerd >/dev/null 2>&1 || die "docker.io is installed but dockerd is not on PATH ($PATH)"
  say "installed $(dpkg-query -W -f='docker.io ${Version}' docker.io 2>/dev/null || echo docker.io)"
}

start_engine() {
  [ "$(id -u)" = 0 ] || die "no engine answers, and starting dockerd needs root: run this script as root"
  local args=(--bridge=none --iptables=false --pidfile="$pidfile")
  if [ -n "${DOCKER_HOST:-}" ]; then
    args+=(--host="$DOCKER_HOST")
  fi
  if [ -n "${R2R_DOCKERD_ARGS:-}" ]; then
    local extra
    read -r -a extra <<<"$R2R_DOCKERD_ARGS"
    args+=("${extra[@]}")
  fi

  local pid
  if pid=$(our_pid); then
    # Started by an earlier run and still coming up (or hung): wait for it, do not start another.
    say "dockerd (pid $pid) from an earlier run is running but does not answer yet; waiting for it"
  else
    rm -f "$pidfile"
    say "starting dockerd ${args[*]} (log: $log)"
    # setsid: its own session, so the caller's Ctrl-C or process-group kill does not take it down.
    setsid nohup dockerd "${args[@]}" </dev/null >"$log" 2>&1 &
    pid=$!
  fi

  local deadline=$((SECONDS + wait_seconds))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if engine_answers; then
      say "$(describe_engine) is up (dockerd pid $pid)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$prog: error: dockerd (pid $pid) did not answer within $wait_seconds s; last lines of $log:" >&2
  else
    echo "$prog: error: dockerd exited before it answered; last lines of $log:" >&2
  fi
  tail -n 30 "$log" >&2 || true
  exit 1
}

case "${1:-}" in
  "") ;;
  --stop) mkdir -p "$state"; stop_engine; exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) echo "usage: $0 [--stop]" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "usage: $0 [--stop]" >&2; exit 2; }

if engine_answers; then
  say "$(describe_engine) answers"
  exit 0
fi

case "${DOCKER_HOST:-}" in
  ""|unix://*) ;;
  *) die "DOCKER_HOST=$DOCKER_HOST does not answer, and this script only starts engines on a local unix:// socket" ;;
esac

mkdir -p "$state"
if ! command -v dockerd >/dev/null 2>&1; then
  install_docker
fi
# Without the CLI `docker info` cannot tell whether an engine already answers, so starting one
# could clash with it. Debian's docker.io brings the CLI; another dockerd may not.
command -v docker >/dev/null 2>&1 ||
  die "dockerd is installed but the docker CLI is not on PATH ($PATH); install one (Debian: docker.io or docker-cli)"
start_engine
