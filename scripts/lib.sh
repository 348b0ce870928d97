# Shared by the scripts (sourced, from the project root): the r2r binary they call.
#
#   r2r_binary [release|debug]
#
# Sets `r2r` to R2R_BIN when that is set (it must be an executable), else to
# target/<profile>/r2r after `cargo build` of that profile (cargo's output on stderr; quick
# when nothing changed, so the binary is never older than the sources). Default: release.
r2r_binary() {
  local profile=${1:-release}
  if [ -n "${R2R_BIN:-}" ]; then
    if [ ! -x "$R2R_BIN" ]; then
      echo "$(basename "$0"): R2R_BIN=$R2R_BIN is not an executable" >&2
      exit 2
    fi
    r2r=$R2R_BIN
    return 0
  fi
  case "$profile" in
    release) cargo build --release -p r2r >&2 ;;
    debug) cargo build -p r2r >&2 ;;
    *) echo "r2r_binary: profile release or debug, not '$profile'" >&2; exit 2 ;;
  esac
  r2r=target/$profile/r2r
}

# need_jq: installs Debian's jq when it is missing (the scripts read `r2r show --json` with it).
need_jq() {
  command -v jq >/dev/null 2>&1 && return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
}
