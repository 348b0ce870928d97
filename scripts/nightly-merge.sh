#!/usr/bin/env bash
# The nightly's last job: merges the machines' run directories into one report, compares each
# machine with its own run of the last accepted merged baseline, adds the merge to the
# history, redraws the trend plots, and exits with the comparison's code (0 no regression,
# 1 an exact size regression of the same .NET version, 2 an error).
#
#   scripts/nightly-merge.sh [--accept] DIR [LABEL=]RUN-DIR...
#
#   DIR        where merges are kept: DIR/<merge-id>/ (each merge, with copies of its runs),
#              DIR/latest, DIR/baseline (the first merge becomes it), DIR/history.csv
#              (run_id,image,metric,value,dotnet; images as <machine>/<image>), DIR/trends/
#   RUN-DIR    one run directory per machine; LABEL names the machine (default: its host name)
#   --accept   make this merge the baseline after comparing
#
# R2R_BIN runs another r2r binary (default: a release build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

accept=false
if [ "${1:-}" = "--accept" ]; then
  accept=true
  shift
fi
case "${1:-}" in
  -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
  '') echo "nightly-merge: give DIR and at least one run directory" >&2; exit 2 ;;
esac
dir=$1
shift
if [ $# -eq 0 ]; then
  echo "nightly-merge: give at least one run directory after $dir" >&2
  exit 2
fi

if [ -n "${R2R_BIN:-}" ]; then
  r2r=$R2R_BIN
else
  cargo build --release -p r2r
  r2r=target/release/r2r
fi

mkdir -p "$dir"
id=$(date -u +%Y%m%dT%H%M%SZ)
baseline=()
first=false
if [ -e "$dir/baseline/merged.json" ]; then
  baseline=(--baseline "$dir/baseline")
else
  first=true
fi
set +e
"$r2r" merge "$@" --out "$dir/$id" --history "$dir/history.csv" "${baseline[@]}"
code=$?
set -e
if [ "$code" -ge 2 ] || [ ! -e "$dir/$id/merged.json" ]; then
  echo "nightly-merge: r2r merge stopped with exit code $code" >&2
  exit $(( code >= 2 ? code : 2 ))
fi
ln -sfn "$id" "$dir/latest"
"$r2r" plot --format svg,png --trend "$dir/history.csv" --output "$dir/trends"
if [ "$first" = true ]; then
  echo "nightly-merge: no baseline yet; merge $id becomes the baseline"
  ln -sfn "$id" "$dir/baseline"
elif [ "$accept" = true ]; then
  ln -sfn "$id" "$dir/baseline"
  echo "nightly-merge: merge $id accepted as the baseline"
fi
# Keep what the next night needs (the cache holds DIR): the baseline and the latest merge.
keep_latest=$(readlink "$dir/latest")
keep_baseline=$(readlink "$dir/baseline")
for merge in "$dir"/*; do
  name=$(basename "$merge")
  # Only merge directories themselves: `latest` and `baseline` are links to them.
  if [ -d "$merge" ] && [ ! -L "$merge" ] && [ -e "$merge/merged.json" ] \
    && [ "$name" != "$keep_latest" ] && [ "$name" != "$keep_baseline" ]; then
    rm -rf -- "$merge"
  fi
done
exit "$code"
