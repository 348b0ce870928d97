#!/usr/bin/env bash
# Knows r2r's own overhead: times `docker run --rm --network none IMAGE` with hyperfine and
# r2r's start-to-exit of the same console image (warm cache, same number of runs), and prints
# both medians and spreads side by side, plus the docker CLI's own floor (`docker version`),
# which hyperfine's figure includes and r2r, talking to the Engine API directly, does not.
#   scripts/bench-startup.sh [IMAGE] [RUNS]
# Default image: the quick scenario's baseline console app (build it with
# `r2r build --scenario quick`). Installs Debian's hyperfine and jq when missing. The
# statistics (median, sd, IQR of linearly interpolated quartiles, MAD) are r2r's
# (`r2r show`), of hyperfine's times as of r2r's runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh
image=${1:-r2r/quick:no-composite-console}
runs=${2:-30}
# hyperfine runs its command through a shell: only the characters of an image reference may
# go into it.
case "$image" in
  ''|-*|*[!A-Za-z0-9._:/@-]*) echo "bench-startup: '$image' is not an image reference" >&2; exit 2 ;;
esac
case "$runs" in ''|*[!0-9]*) echo "bench-startup: RUNS must be a whole number, not '$runs'" >&2; exit 2 ;; esac
r2r_binary release
need_jq
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

hyperfine --warmup 3 --runs "$runs" --style none --export-json "$work/hyperfine.json" \
  "docker run --rm --network none $image" >/dev/null
# The docker CLI's own floor: process start, API negotiation and one request, no container.
hyperfine -N --warmup 3 --runs "$runs" --style none --export-json "$work/cli.json" \
  "docker version --format {{.Server.APIVersion}}" >/dev/null

# The same image as a one-image scenario for r2r.
name=$(echo "$image" | sed 's/^r2r\///; s/:.*//')
variant=$(echo "$image" | sed 's/.*://; s/-console$//')
"$r2r" measure startup --scenario "$name" --cache warm --runs "$runs" --warmup 3 --output "$work/r2r" >/dev/null
# Summary statistics, JSON: of hyperfine's times (seconds, as ms), of r2r's runs of the image.
describe_times() { jq '.results[0].times[] * 1000' "$1" | "$r2r" show --describe -; }
hyper=$(describe_times "$work/hyperfine.json")
cli=$(describe_times "$work/cli.json")
runs=$("$r2r" show --run "$work/r2r" --json |
  jq --arg image "$variant.console" '.startup_runs[] | select(.image == $image and .cache == "warm")')
[ -n "$runs" ] || { echo "bench-startup: r2r recorded no warm run of $variant.console" >&2; exit 1; }
total=$(jq '.total_ms' <<<"$runs")
removed=$(jq '.total_with_remove_ms' <<<"$runs")

show() { # label, description
  printf '%-34s runs %3d  median %7.1f ms  sd %6.1f ms  IQR %6.1f ms\n' "$1" \
    $(jq -r '"\(.count) \(.median) \(.standard_deviation) \(.iqr)"' <<<"$2")
}
# "ratio percent" of two numbers: a / b and (a - b) / b in percent.
ratio() { jq -n -r --argjson a "$1" --argjson b "$2" '"\($a / $b) \(($a - $b) / $b * 100)"'; }
median() { jq '.median' <<<"$1"; }
show "hyperfine: docker run --rm" "$hyper"
show "hyperfine: docker version (CLI floor)" "$cli"
show "r2r: create + start to exit" "$total"
show "r2r: create + start to exit + remove" "$removed"
for pair in "start to exit|$total" "start to exit + remove|$removed"; do
  printf 'r2r %s median / hyperfine median = %.3f (%+.1f%%)\n' "${pair%%|*}" \
    $(ratio "$(median "${pair#*|}")" "$(median "$hyper")")
done
# hyperfine's median less the CLI's own floor: what r2r's figure (no CLI) compares with.
without_cli=$(jq -n --argjson h "$(median "$hyper")" --argjson c "$(median "$cli")" '$h - $c')
printf 'r2r start to exit + remove / (hyperfine median - CLI floor) = %.3f (%+.1f%%)\n' \
  $(ratio "$(median "$removed")" "$without_cli")
printf 'spread (MAD): r2r %.1f ms, hyperfine %.1f ms\n' "$(jq '.mad' <<<"$removed")" "$(jq '.mad' <<<"$hyper")"
