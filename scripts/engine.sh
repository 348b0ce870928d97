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
#   scripts/engine.sh --engine docker|docker-containerd|podman [--stop]
#                              `docker` is the above. The other two run beside the machine's
#                              engine, each in a Debian trixie root of its own making (made once
#                              with `debootstrap --variant=minbase trixie` and `apt-get install
#                              --no-install-recommends docker.io podman` inside it, never on this
#                              machine; cached in ${R2R_STATE_DIR:-/var/tmp/r2r}/trixie-root):
#                                docker-containerd  dockerd 26 with the containerd image store
#                                                   (daemon.json: containerd-snapshotter), its
#                                                   own containerd, --bridge=none --iptables=false
#                                                   --ip6tables=false;
#                                podman             `podman system service --time=0`, the
#                                                   Docker-compatible API (cgroupfs, no network
#                                                   by default).
#                              Each runs in its own mount namespace whose root is the trixie root
#                              (pivot_root, the old root detached: a plain chroot breaks the
#                              classic builder). Once it answers, the last line printed is
#                              `DOCKER_HOST=unix://...`: its socket as seen from this machine.
#                              With --stop, that engine is stopped (SIGTERM, then waited for).
#   scripts/engine.sh --make-root
#                              only make that trixie root, when it is missing, and stop (the
#                              test suite starts this early, in the background; a second maker
#                              waits for the first).
#
# No bridge network and no iptables rules are made: containers run with `--network none` (or the
# host's network). State lives in ${R2R_STATE_DIR:-/var/tmp/r2r}: dockerd.log, dockerd.pid; for
# the other engines <engine>.log, <engine>.pid, trixie-root/ (delete it to start from fresh
# packages) and trixie-root.log.
#
# Environment:
#   DOCKER_HOST       a unix:// socket to check and, if nothing answers there, to start dockerd on
#                     (tcp:// and other engines are only checked, never started). Ignored with
#                     --engine docker-containerd|podman, whose sockets are their own.
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

# Whether a process runs: it exists and is not a zombie (a daemon killed outright whose parent
# has not reaped it yet still answers `kill -0`, under its old name).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  ! grep -q ') Z ' "/proc/$1/stat" 2>/dev/null
}

# The pid in our pid file, if that process still runs.
our_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Only a dockerd: a stale pid file must not make us signal an unrelated process.
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

# Sends SIGTERM to a daemon this script started and waits up to 60 s for it to exit.
#   terminate NAME PID PIDFILE LOG
terminate() {
  local name=$1 pid=$2 file=$3 log_file=$4
  say "stopping $name (pid $pid)"
  kill -TERM "$pid"
  # dockerd stops its containers (10 s each by default) and its containerd before it exits.
  for _ in $(seq 1 120); do
    alive "$pid" || { rm -f "$file"; say "$name (pid $pid) has exited"; return 0; }
    sleep 0.5
  done
  die "$name (pid $pid) did not exit within 60 s after SIGTERM; see $log_file"
}

stop_engine() {
  local pid
  if ! pid=$(our_pid); then
    say "no dockerd started by this script is running (pid file $pidfile)"
    return 0
  fi
  terminate dockerd "$pid" "$pidfile" "$log"
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
    alive "$pid" || break
    sleep 0.5
  done
  if alive "$pid"; then
    echo "$prog: error: dockerd (pid $pid) did not answer within $wait_seconds s; last lines of $log:" >&2
  else
    echo "$prog: error: dockerd exited before it answered; last lines of $log:" >&2
  fi
  tail -n 30 "$log" >&2 || true
  exit 1
}

# --- the engines in a trixie root ----------------------------------------------------------

root="$state/trixie-root"
root_log="$state/trixie-root.log"

# The socket, pid file and log of an engine in the trixie root (paths inside the root).
engine_socket() { case "$1" in docker-containerd) echo /run/r2r-docker26.sock ;; podman) echo /run/r2r-podman.sock ;; esac; }
engine_comm() { case "$1" in docker-containerd) echo dockerd ;; podman) echo podman ;; esac; }

# The pid in an engine's pid file, if that process (of the right name) still runs.
root_engine_pid() {
  local pid file="$state/$1.pid"
  [ -f "$file" ] || return 1
  pid=$(cat "$file" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(engine_comm "$1")" ] || return 1
  echo "$pid"
}

# Runs a command chrooted in DIR with /proc and /dev, in a mount namespace of its own: the
# mounts vanish with it, whatever happens.
in_root() {
  local dir=$1
  shift
  unshare -m --propagation private -- sh -c '
    dir=$1; shift
    mount -t proc proc "$dir/proc" && mount --rbind /dev "$dir/dev" &&
      exec chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"
  ' in-root "$dir" "$@"
}

# Makes the trixie root once (debootstrap, then docker.io and podman inside it); a half-made root
# is never used: it is made under another name and renamed when complete.
make_root() {
  [ -f "$root/.r2r-ready" ] && return 0
  [ "$(id -u)" = 0 ] || die "making the trixie root needs root (debootstrap, chroot): run this script as root"
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (Debian: apt-get install debootstrap)"
  command -v unshare >/dev/null 2>&1 || die "unshare (util-linux) is not on PATH"
  # One maker at a time; the lock is not inherited by the engines started afterwards.
  (
    flock 9
    [ -f "$root/.r2r-ready" ] || make_root_locked
  ) 9>"$state/trixie-root.lock" || exit 1
}

make_root_locked() {
  local work="$root.making"
  rm -rf --one-file-system "$work"
  local started=$SECONDS
  say "making the trixie root in $root (debootstrap, then docker.io and podman; log: $root_log)"
  {
    unshare -m --propagation private -- debootstrap --variant=minbase trixie "$work" &&
      cp /etc/resolv.conf "$work/etc/resolv.conf" &&
      printf '#!/bin/sh\n# No service starts while packages install: the engines are started by scripts/engine.sh.\nexit 101\n' >"$work/usr/sbin/policy-rc.d" &&
      chmod 755 "$work/usr/sbin/policy-rc.d" &&
      in_root "$work" apt-get update &&
      in_root "$work" apt-get install -y --no-install-recommends docker.io podman &&
      in_root "$work" apt-get clean
  } >"$root_log" 2>&1 || {
    tail -n 25 "$root_log" >&2
    die "making the trixie root failed; full log in $root_log (the partial root $work is left for inspection)"
  }
  in_root "$work" sh -c 'dpkg-query -W -f="\${Package} \${Version}\n" docker.io containerd podman runc' >"$work/.r2r-versions" 2>/dev/null || true
  touch "$work/.r2r-ready"
  mv "$work" "$root"
  say "made the trixie root in $((SECONDS - started)) s: $(tr '\n' ' ' <"$root/.r2r-versions")"
}

# The engines' configuration in the trixie root, written at every start (so a root made before
# a change gets it too).
configure_root() {
  mkdir -p "$root/etc/docker" "$root/etc/containers"
  echo '{"features":{"containerd-snapshotter":true}}' >"$root/etc/docker/daemon.json"
  # No systemd and no journald in the root: cgroupfs and a file for events. runc, not crun: crun
  # refuses a host whose cgroups are hybrid (v1 controllers beside a v2 mount), as here. No
  # network by default (podman's default network is a bridge on a private range).
  cat >"$root/etc/containers/containers.conf" <<'CONF'
[containers]
netns = "none"
# The compatible API takes no log size per container: every container's log is capped here.
log_size_max = 4194304

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
}

# Starts ENGINE in its own mount namespace rooted in the trixie root, in the background.
start_root_engine() {
  local engine=$1 log="$state/$1.log" command=()
  case "$engine" in
    docker-containerd)
      command=(dockerd --bridge=none --iptables=false --ip6tables=false
        -H "unix://$(engine_socket "$engine")" --data-root=/var/lib/r2r-docker26
        --exec-root=/run/r2r-docker26 --pidfile=/run/r2r-docker26.pid) ;;
    podman)
      command=(podman system service --time=0 "unix://$(engine_socket "$engine")") ;;
  esac
  configure_root
  rm -f "$root$(engine_socket "$engine")"
  say "starting ${command[*]} in $root (log: $log)"
  # unshare execs (no fork) and so does the shell: the pid is the engine's. The new root is
  # bound onto itself (pivot_root needs a mount point), /proc /dev /sys are bound in, and the
  # old root is detached after the pivot.
  setsid nohup unshare -m --propagation private -- sh -c '
    root=$1; shift
    mount --rbind "$root" "$root" &&
      mount --rbind /proc "$root/proc" &&
      mount --rbind /dev "$root/dev" &&
      mount --rbind /sys "$root/sys" &&
      cd "$root" && mkdir -p .old-root && pivot_root . .old-root &&
      cd / && umount -l /.old-root &&
      exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
  ' engine-root "$root" "${command[@]}" </dev/null >"$log" 2>&1 &
  echo $! >"$state/$engine.pid"
}

root_engine_answers() {
  local socket="$root$(engine_socket "$1")"
  [ -S "$socket" ] || return 1
  command -v curl >/dev/null 2>&1 || die "curl is needed to ask the engine at $socket whether it answers"
  timeout 10 curl -fsS --unix-socket "$socket" http://localhost/_ping >/dev/null 2>&1
}

describe_root_engine() {
  local socket="$root$(engine_socket "$1")"
  timeout 10 curl -fsS --unix-socket "$socket" http://localhost/version 2>/dev/null |
    sed -n 's/.*"Version":"\([^"]*\)".*"ApiVersion":"\([^"]*\)".*/\1 (API \2)/p' | head -n 1
}

run_root_engine() {
  local engine=$1 pid
  mkdir -p "$state"
  make_root
  if root_engine_answers "$engine"; then
    say "$engine $(describe_root_engine "$engine") answers"
    echo "DOCKER_HOST=unix://$root$(engine_socket "$engine")"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "starting $engine needs root (mount namespace, pivot_root): run this script as root"
  if pid=$(root_engine_pid "$engine"); then
    say "$engine (pid $pid) from an earlier run is running but does not answer yet; waiting for it"
  else
    start_root_engine "$engine"
    pid=$(cat "$state/$engine.pid")
  fi
  local deadline=$((SECONDS + wait_seconds))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if root_engine_answers "$engine"; then
      say "$engine $(describe_root_engine "$engine") is up (pid $pid)"
      echo "DOCKER_HOST=unix://$root$(engine_socket "$engine")"
      return 0
    fi
    alive "$pid" || break
    sleep 0.5
  done
  echo "$prog: error: $engine (pid $pid) did not answer within $wait_seconds s; last lines of $state/$engine.log:" >&2
  tail -n 30 "$state/$engine.log" >&2 || true
  exit 1
}

stop_root_engine() {
  local engine=$1 pid
  if ! pid=$(root_engine_pid "$engine"); then
    say "no $engine started by this script is running (pid file $state/$engine.pid)"
    return 0
  fi
  terminate "$engine" "$pid" "$state/$engine.pid" "$state/$engine.log"
}

# --- arguments -----------------------------------------------------------------------------

usage() { echo "usage: $0 [--engine docker|docker-containerd|podman] [--stop] | --make-root" >&2; exit 2; }
engine=docker
stop=false
while [ $# -gt 0 ]; do
  case "$1" in
    --stop) stop=true ;;
    --make-root) mkdir -p "$state"; make_root; say "the trixie root is ready: $root"; exit 0 ;;
    --engine) [ $# -ge 2 ] || usage; engine=$2; shift ;;
    --engine=*) engine=${1#--engine=} ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) usage ;;
  esac
  shift
done
case "$engine" in
  docker) ;;
  docker-containerd|podman)
    if $stop; then mkdir -p "$state"; stop_root_engine "$engine"; else run_root_engine "$engine"; fi
    exit 0 ;;
  *) echo "$prog: unknown engine '$engine' (docker, docker-containerd or podman)" >&2; usage ;;
esac
if $stop; then mkdir -p "$state"; stop_engine; exit 0; fi

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
