#!/usr/bin/env bash
# Makes the root file system of a .NET "runtime-deps" base from Debian bookworm's packages, as a
# tarball (not an image: r2r imports it through the Engine API). No container registry is needed.
#
#   scripts/bootstrap-base.sh slim|distroless OUTPUT.tar [--icu] [--arch amd64|arm64]
#   (options may come anywhere: r2r calls `bootstrap-base.sh slim --icu --arch arm64 OUTPUT.tar`)
#
#   slim        `debootstrap --variant=minbase bookworm` plus the libraries .NET needs
#               (ca-certificates libc6 libgcc-s1 libssl3 libstdc++6 tzdata zlib1g), trimmed: no
#               apt lists or caches, docs (copyright files kept), man pages, locales other than
#               C, or logs; and the user `app` (uid/gid 1654, home /home/app) of the official
#               .NET images.
#   distroless  a new root with only what .NET needs to run: the loader and libc (with libm,
#               libdl, libpthread, librt, libnss_*...), libstdc++, libgcc_s, libssl/libcrypto,
#               libz, the CA bundle, /usr/share/zoneinfo, /etc/passwd and /etc/group with root
#               and app, /etc/nsswitch.conf, /tmp and /home/app. No shell, no package manager,
#               no coreutils.
#   --icu       add libicu72 (without it .NET needs DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1).
#   --arch A    the Debian architecture of the root (default: the machine's). Another one than
#               the machine's (`--arch arm64` on x64) runs debootstrap's second stage and apt in
#               the chroot through QEMU: Debian's qemu-user-static and binfmt-support are
#               installed when missing, binfmt_misc is mounted and the qemu-<cpu> handler
#               enabled (each step only when needed, so running it again changes nothing).
#
# Needs root (debootstrap, chroot). Installs debootstrap with apt when it is missing. The
# debootstrap result is cached as a tarball in ${R2R_STATE_DIR:-/var/tmp/r2r}/debootstrap-cache
# (delete it to start from fresh packages); the work directory is made under that state dir too.
# The tarball has sorted names, numeric owners and mtime @0, and is written to a temporary file
# that is renamed into place. debootstrap and apt use the machine's default Debian mirror.
set -euo pipefail

prog=bootstrap-base
say() { echo "$prog: $*"; }
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() {
  echo "usage: $0 slim|distroless OUTPUT.tar [--icu] [--arch amd64|arm64]" >&2
  exit 2
}

# --- arguments -----------------------------------------------------------------------------
icu=no
arch=
positional=()
expect_arch=no
for arg in "$@"; do
  if [ "$expect_arch" = yes ]; then arch=$arg; expect_arch=no; continue; fi
  case "$arg" in
    --icu) icu=yes ;;
    --arch) expect_arch=yes ;;
    --arch=*) arch=${arg#--arch=} ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) echo "$prog: unknown option '$arg'" >&2; usage ;;
    *) positional+=("$arg") ;;
  esac
done
[ "$expect_arch" = no ] || { echo "$prog: --arch needs a value (amd64 or arm64)" >&2; usage; }
[ "${#positional[@]}" -eq 2 ] || usage
kind=${positional[0]}
output=${positional[1]}
case "$kind" in
  slim|distroless) ;;
  *) echo "$prog: unknown base kind '$kind' (slim or distroless)" >&2; usage ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (debootstrap and chroot); run it as root"
for tool in chroot tar flock sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not on PATH"
done
tar --sort=name --version >/dev/null 2>&1 || die "GNU tar 1.28 or newer is needed (--sort=name)"
output_dir=$(dirname -- "$output")
[ -d "$output_dir" ] || mkdir -p -- "$output_dir"
output=$(cd -- "$output_dir" && pwd)/$(basename -- "$output")

# --- timing --------------------------------------------------------------------------------
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%03d s' $((ms / 1000)) $((ms % 1000)); }
started=$(now_ms)

# --- work directory and clean-up -------------------------------------------------------------
state="${R2R_STATE_DIR:-/var/tmp/r2r}"
cache="$state/debootstrap-cache"
mkdir -p "$cache"
work=$(mktemp -d "$state/work.XXXXXX")
full="$work/full"   # the minbase root with the packages installed (and, for slim, the result)
mounts=()           # what we mounted into $full, unmounted in reverse order

cleanup() {
  local status=$? i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
  done
  # Never rm -rf through a mount that is still there (a bind of /dev, /proc).
  if grep -q " $work/" /proc/self/mounts 2>/dev/null; then
    echo "$prog: error: something is still mounted under $work; not removing it" >&2
  else
    rm -rf -- "$work"
  fi
  rm -f -- "$output.partial.$$"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. debootstrap minbase, cached ----------------------------------------------------------
if ! command -v debootstrap >/dev/null 2>&1; then
  say "debootstrap is not installed: installing it with apt"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap; } \
    >"$work/apt.log" 2>&1 || { tail -n 25 "$work/apt.log" >&2; die "installing debootstrap failed"; }
fi
host_arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
arch=${arch:-$host_arch}
case "$arch" in
  amd64) qemu_cpu=x86_64 ;;
  arm64) qemu_cpu=aarch64 ;;
  *) die "unknown architecture '$arch' (amd64 or arm64)" ;;
esac

# --- 0. another architecture: QEMU through binfmt_misc ---------------------------------------
if [ "$arch" != "$host_arch" ]; then
  binfmt=/proc/sys/fs/binfmt_misc
  if ! command -v "qemu-$qemu_cpu-static" >/dev/null 2>&1 || ! command -v update-binfmts >/dev/null 2>&1; then
    say "$arch on $host_arch: installing Debian's qemu-user-static and binfmt-support"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-user-static binfmt-support; } \
      >"$work/apt-qemu.log" 2>&1 || { tail -n 25 "$work/apt-qemu.log" >&2; die "installing qemu-user-static and binfmt-support failed"; }
  fi
  if [ ! -e "$binfmt/register" ]; then
    say "mounting binfmt_misc on $binfmt"
    mount -t binfmt_misc binfmt_misc "$binfmt" || die "cannot mount binfmt_misc on $binfmt (a container without the privilege?)"
  fi
  if [ ! -e "$binfmt/qemu-$qemu_cpu" ]; then
    say "registering the binfmt_misc handler qemu-$qemu_cpu"
    update-binfmts --enable "qemu-$qemu_cpu" >/dev/null 2>&1 || update-binfmts --import "qemu-$qemu_cpu" >/dev/null 2>&1 || true
  fi
  [ -e "$binfmt/qemu-$qemu_cpu" ] || die "no binfmt_misc handler qemu-$qemu_cpu after update-binfmts; $arch programs cannot run here"
  if [ "$(head -n1 "$binfmt/qemu-$qemu_cpu")" != enabled ]; then
    echo 1 >"$binfmt/qemu-$qemu_cpu" || die "cannot enable the binfmt_misc handler qemu-$qemu_cpu"
  fi
  grep -q '^flags:.*F' "$binfmt/qemu-$qemu_cpu" ||
    say "warning: the handler qemu-$qemu_cpu lacks the F flag: the chroot finds the emulator, containers will not"
  say "$arch programs run through $(sed -n 's/^interpreter //p' "$binfmt/qemu-$qemu_cpu") (flags $(sed -n 's/^flags: //p' "$binfmt/qemu-$qemu_cpu"))"
fi
cached="$cache/bookworm-minbase-$arch.tar"
exec 9>"$cache/.lock"
flock 9   # two runs at once: the second waits and then uses the first one's cache
if [ -s "$cached" ]; then
  say "using the cached debootstrap root $cached"
else
  say "debootstrap --variant=minbase --arch=$arch bookworm (cached as $cached)"
  t=$(now_ms)
  minbase="$work/minbase"
  debootstrap --variant=minbase --arch="$arch" bookworm "$minbase" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed; full log above (last 30 lines)"
  }
  # debootstrap copies the host's resolv.conf and hostname in; they are no part of a base.
  rm -f "$minbase/etc/resolv.conf" "$minbase/etc/hostname"
  tar --sort=name --numeric-owner -cf "$cached.partial" -C "$minbase" .
  mv -f "$cached.partial" "$cached"
  rm -rf -- "$minbase"
  say "debootstrap took $(since "$t") ($(du -h "$cached" | cut -f1) cached)"
fi
flock -u 9

mkdir -p "$full"
tar --numeric-owner -xf "$cached" -C "$full"

# --- 2. the libraries .NET needs, installed in a chroot ------------------------------------
packages=(ca-certificates libc6 libgcc-s1 libssl3 libstdc++6 tzdata zlib1g)
[ "$icu" = yes ] && packages+=(libicu72)

in_root() {  # run a command in $full with a clean environment
  chroot "$full" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

t=$(now_ms)
mount -t proc proc "$full/proc" && mounts+=("$full/proc")
if [ ! -c "$full/dev/null" ]; then  # debootstrap in a container leaves /dev empty
  mount --bind /dev "$full/dev" && mounts+=("$full/dev")
fi
cp -L /etc/resolv.conf "$full/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$full/usr/sbin/policy-rc.d"
chmod 755 "$full/usr/sbin/policy-rc.d"
{
  in_root apt-get update &&
    in_root apt-get install -y --no-install-recommends "${packages[@]}"
} >"$work/apt.log" 2>&1 || {
  tail -n 30 "$work/apt.log" >&2
  die "apt-get install ${packages[*]} in the chroot failed"
}
rm -f "$full/usr/sbin/policy-rc.d" "$full/etc/resolv.conf"
say "installed ${packages[*]} in $(since "$t")"

# dpkg --status of the packages, for the summary.
versions=$(in_root dpkg-query -W -f='${Package}=${Version} ' "${packages[@]}")

add_app_user_files() {  # $1 = root: /home/app owned by app, /tmp world-writable and sticky
  mkdir -p "$1/home/app" "$1/tmp"
  chown 1654:1654 "$1/home/app"
  chmod 755 "$1/home/app"
  chmod 1777 "$1/tmp"
}

# --- 3a. slim: the chroot itself, trimmed ----------------------------------------------------
make_slim() {
  root="$full"
  # The app user as the official images make it (groupadd/useradd from the passwd package).
  # SOURCE_DATE_EPOCH: the "last password change" day in /etc/shadow is the cache's, not today.
  local epoch
  epoch=$(stat -c %Y "$cached")
  in_root SOURCE_DATE_EPOCH="$epoch" groupadd --gid=1654 app
  in_root SOURCE_DATE_EPOCH="$epoch" useradd --no-log-init --uid=1654 --gid=1654 --create-home app
  add_app_user_files "$root"
  # Keep later `apt-get install`s in derived images slim too, as debian:*-slim does.
  cat >"$root/etc/dpkg/dpkg.cfg.d/r2r-slim" <<'EOF'
# r2r slim base: no docs, man pages or translations (copyright files are kept)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  local m
  for m in "${mounts[@]}"; do umount "$m"; done
  mounts=()
  ! grep -q " $full/" /proc/self/mounts || die "something is still mounted under $full"
  # apt lists and caches, logs, backups and caches that only record when they were made.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/var/lib/dpkg/*-old "$root"/var/cache/ldconfig/aux-cache "$root"/var/log/* \
    "$root"/etc/*- "$root"/root/.bash_history "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/lintian "$root"/usr/share/linda
  mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
  # Docs except copyright files; translations except locale.alias (the C locale is in libc).
  find "$root/usr/share/doc" -mindepth 1 \( -type f -o -type l \) ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  # /dev, /proc, /sys and /run are the engine's at run time.
  find "$root/dev" "$root/proc" "$root/sys" "$root/run" -mindepth 1 -delete 2>/dev/null || true
}

# --- 3b. distroless: a new root from the packages' files -------------------------------------
make_distroless() {
  root="$work/distroless"
  mkdir -p "$root"
  local libs=(libc6 libgcc-s1 libstdc++6 libssl3 zlib1g)
  [ "$icu" = yes ] && libs+=(libicu72)

  # The merged-/usr links the ELF interpreter path needs (/lib64/ld-linux-x86-64.so.2).
  local link
  for link in lib lib32 lib64 libx32; do
    [ -L "$full/$link" ] && cp -a "$full/$link" "$root/$link"
  done

  # Every file and symlink the packages own, at its canonical directory (so /lib/x/libc.so.6
  # lands in /usr/lib/x/ once, through the merged-/usr link), symlinks copied as symlinks.
  # Left out: docs and other /usr/share data, programs (ldconfig, getconf, sotruss...), and
  # glibc's gconv modules (iconv charsets; .NET uses ICU or the invariant mode, never iconv).
  in_root sh -c '
    dpkg-query -L "$@" | while IFS= read -r path; do
      { [ -L "$path" ] || [ -f "$path" ]; } || continue
      dir=$(readlink -f "$(dirname "$path")")
      echo "$dir/$(basename "$path")"
    done' sh "${libs[@]}" |
    grep -Ev '^/usr/(share|bin|sbin|libexec)/|^/usr/lib/[^/]+/gconv/|^/usr/lib/[^/]+/audit/' |
    LC_ALL=C sort -u >"$work/distroless.files"
  local path
  while IFS= read -r path; do
    mkdir -p "$root$(dirname "$path")"
    cp -a "$full$path" "$root$path"
  done <"$work/distroless.files"

  # The loader's cache of those libraries (as `ldconfig` makes it on a normal system), made by
  # the root's own static ldconfig; -X: no links made, the packages' links are already there.
  if [ -e "$root/etc/ld.so.conf.d" ]; then
    cp -a "$full/etc/ld.so.conf" "$root/etc/ld.so.conf"
    "$full/usr/sbin/ldconfig" -X -r "$root"
    rm -rf "$root/var/cache/ldconfig"
  fi

  # Copyright files of what is in the root.
  local package
  for package in "${libs[@]}" ca-certificates tzdata; do
    if [ -e "$full/usr/share/doc/$package/copyright" ]; then
      mkdir -p "$root/usr/share/doc/$package"
      cp -L "$full/usr/share/doc/$package/copyright" "$root/usr/share/doc/$package/copyright"
    fi
  done

  # CA bundle, at Debian's path and where OpenSSL looks by default (OPENSSLDIR=/usr/lib/ssl;
  # Debian's `openssl` package normally makes these links).
  mkdir -p "$root/etc/ssl/certs" "$root/usr/lib/ssl"
  cp -a "$full/etc/ssl/certs/ca-certificates.crt" "$root/etc/ssl/certs/"
  ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
  ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"

  # Time zones, and the machine's zone (UTC) as tzdata sets it.
  mkdir -p "$root/usr/share"
  cp -a "$full/usr/share/zoneinfo" "$root/usr/share/zoneinfo"
  cp -a "$full/etc/localtime" "$full/etc/timezone" "$root/etc/" 2>/dev/null || true

  # Users, name service, os-release (scanners and `dotnet --info` read it).
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\napp:x:1654:1654::/home/app:/usr/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\napp:x:1654:\n' >"$root/etc/group"
  cp -a "$full/etc/nsswitch.conf" "$root/etc/nsswitch.conf"
  cp -L "$full/etc/os-release" "$root/etc/os-release"
  mkdir -p "$root/root"
  chmod 700 "$root/root"
  add_app_user_files "$root"

  # What is in it must be whole: no symlink may point at something left out.
  local l target dangling=()
  while IFS= read -r -d '' l; do
    target=$(readlink "$l")
    case "$target" in
      /*) [ -e "$root$target" ] || dangling+=("${l#"$root"} -> $target") ;;
      *) [ -e "$l" ] || dangling+=("${l#"$root"} -> $target") ;;
    esac
  done < <(find "$root" -type l -print0)
  [ "${#dangling[@]}" = 0 ] || die "distroless root has dangling symlinks: ${dangling[*]}"
  local banned
  for banned in bin/sh usr/bin/sh usr/bin/dpkg usr/bin/apt-get usr/bin/ls; do
    [ ! -e "$root/$banned" ] || die "distroless root has /$banned"
  done
}

t=$(now_ms)
case "$kind" in
  slim) make_slim ;;
  distroless) make_distroless ;;
esac

# --- 4. the tarball --------------------------------------------------------------------------
partial="$output.partial.$$"
tar --sort=name --numeric-owner --mtime=@0 --format=gnu -cf "$partial" -C "$root" .
mv -f "$partial" "$output"
bytes=$(stat -c %s "$output")
say "$kind$([ "$icu" = yes ] && echo ' +icu') base ($arch) -> $output"
say "  $(numfmt --to=iec --suffix=B "$bytes" 2>/dev/null || echo "$bytes bytes") ($bytes bytes), $(find "$root" -mindepth 1 | wc -l) entries, sha256 $(sha256sum "$output" | cut -c1-16)"
say "  packages: $versions"
say "  made in $(since "$t") after the packages; $(since "$started") in all"
