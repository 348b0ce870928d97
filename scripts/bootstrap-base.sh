#!/usr/bin/env bash
# Makes the root file system of a .NET runtime-deps base from Debian bookworm's packages, as a
# tarball that r2r imports through the Engine API (no registry needed).
#   scripts/bootstrap-base.sh slim|distroless OUTPUT.tar [--icu]
# slim:       debootstrap minbase plus the libraries .NET needs, trimmed, with a non-root
#             `app` user (uid/gid 1654, as in the official images).
# distroless: only the files of those libraries (loader, libc, libstdc++, libgcc_s, libssl,
#             zlib, optionally ICU), the CA bundle, time zones and the users: no shell, no
#             package manager.
# The debootstrap result is cached under ${R2R_STATE_DIR:-/var/tmp/r2r}/debootstrap-cache.
set -euo pipefail

usage() { echo "usage: $0 slim|distroless OUTPUT.tar [--icu]" >&2; exit 2; }
[ $# -ge 2 ] || usage
kind=$1; output=$2; icu=no
case "$kind" in slim|distroless) ;; *) echo "unknown base kind '$kind'; allowed: slim, distroless" >&2; usage ;; esac
[ "${3:-}" = "--icu" ] && icu=yes
[ "$(id -u)" = 0 ] || { echo "bootstrap-base: debootstrap needs root" >&2; exit 1; }
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

started=$(date +%s)
state="${R2R_STATE_DIR:-/var/tmp/r2r}"
cache="$state/debootstrap-cache"
mkdir -p "$cache" "$(dirname "$output")"
packages="ca-certificates,libssl3,tzdata,zlib1g,libstdc++6,libgcc-s1,libc6"
[ "$icu" = yes ] && packages="$packages,libicu72"
cached="$cache/bookworm-minbase-$(echo "$packages" | sha256sum | cut -c1-12).tar"

work=$(mktemp -d "${TMPDIR:-/tmp}/r2r-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
full="$work/full"
mkdir -p "$full"
if [ -f "$cached" ]; then
  tar -xf "$cached" -C "$full"
else
  echo "bootstrap-base: debootstrap --variant=minbase bookworm (+ $packages)"
  debootstrap --variant=minbase --include="$packages" bookworm "$full" >"$work/debootstrap.log" 2>&1 || {
    tail -30 "$work/debootstrap.log" >&2; exit 1; }
  tar --numeric-owner -cf "$cached.partial" -C "$full" . && mv "$cached.partial" "$cached"
  echo "bootstrap-base: debootstrap took $(( $(date +%s) - started )) s"
fi

add_users() {  # $1 = root
  local root=$1
  mkdir -p "$root/etc" "$root/home/app" "$root/tmp"
  grep -q '^app:' "$root/etc/passwd" 2>/dev/null || echo 'app:x:1654:1654::/home/app:/usr/sbin/nologin' >>"$root/etc/passwd"
  grep -q '^app:' "$root/etc/group" 2>/dev/null || echo 'app:x:1654:' >>"$root/etc/group"
  chown 1654:1654 "$root/home/app"
  chmod 1777 "$root/tmp"
}

case "$kind" in
  slim)
    root="$full"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian \
      "$root"/var/log/* "$root"/var/cache/ldconfig/aux-cache
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
    add_users "$root"
    ;;
  distroless)
    root="$work/distroless"
    mkdir -p "$root"
    # The merged-/usr links (lib -> usr/lib, lib64 -> usr/lib64), but no bin or sbin.
    for link in lib lib64; do
      [ -L "$full/$link" ] && cp -a "$full/$link" "$root/$link"
    done
    libs="libc6 libgcc-s1 libstdc++6 libssl3 zlib1g"
    [ "$icu" = yes ] && libs="$libs libicu72"
    for package in $libs; do
      chroot "$full" dpkg -L "$package" | while read -r path; do
        case "$path" in /usr/share/doc*|/usr/share/lintian*|/usr/share/man*|/usr/share/locale*|/usr/share/gcc*|/usr/share/gdb*|/usr/lib/x86_64-linux-gnu/gconv*|/usr/bin/*|/usr/sbin/*|/bin/*|/sbin/*|/etc/*) continue ;; esac
        # Merged /usr: /lib and /lib64 are links to their /usr counterparts in both roots.
        case "$path" in /lib/*|/lib64/*) path="/usr$path" ;; esac
        # Files and links only; directories come with them.
        if [ -L "$full$path" ] || [ -f "$full$path" ]; then
          (cd "$full" && cp -a --parents ".$path" "$root/")
        fi
      done
    done
    mkdir -p "$root/etc/ssl/certs" "$root/usr/share"
    cp -a "$full/etc/ssl/certs/ca-certificates.crt" "$root/etc/ssl/certs/"
    cp -a "$full/usr/share/zoneinfo" "$root/usr/share/"
    [ -e "$full/etc/localtime" ] && cp -a "$full/etc/localtime" "$root/etc/"
    printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
    mkdir -p "$root/root" && chmod 700 "$root/root"
    add_users "$root"
    ;;
esac

tar --sort=name --numeric-owner --mtime=@1577836800 -cf "$output.partial" -C "$root" .
mv "$output.partial" "$output"
echo "bootstrap-base: $kind$( [ "$icu" = yes ] && echo ' with ICU') -> $output ($(du -h "$output" | cut -f1)), $(( $(date +%s) - started )) s"
