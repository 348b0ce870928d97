#!/usr/bin/env bash
# The nightly's last job: `r2r nightly-merge` merges the machines' run directories into one
# report, compares each machine with its own run of the last accepted merged baseline, adds the
# merge to the history, redraws the trend plots, keeps only the latest merge and the baseline,
# and exits with the comparison's code (0 no regression, 1 an exact size regression of the same
# .NET version, 2 an error).
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
. scripts/lib.sh

accept=()
if [ "${1:-}" = "--accept" ]; then
  accept=(--accept)
  shift
fi
case "${1:-}" in
  -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
  '') echo "nightly-merge: give DIR and at least one run directory" >&2; exit 2 ;;
esac
if [ $# -lt 2 ]; then
  echo "nightly-merge: give at least one run directory after $1" >&2
  exit 2
fi

r2r_binary release
exec "$r2r" nightly-merge "${accept[@]}" -- "$@"
