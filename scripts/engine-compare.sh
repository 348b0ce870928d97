#!/usr/bin/env bash
# Compares the sizes of the same images measured on several engines (run directories written
# by scripts/engine-quick.sh): the content bytes (files as the engine accounts them) must be
# equal, and gzip and zstd within 1% of the first engine's. Prints one line per image and
# engine. The comparison is r2r's: `r2r compare-engines`.
#
#   scripts/engine-compare.sh LABEL=RUN-DIR LABEL=RUN-DIR [...]
#
# Exit 0 when every image of the first run is on every other engine with equal content bytes
# and compressed sizes within 1%; 1 otherwise. R2R_TEST_BINARY: the r2r binary (default
# target/debug/r2r).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -ge 2 ] || { echo "usage: $0 LABEL=RUN-DIR LABEL=RUN-DIR [...]" >&2; exit 2; }
r2r=${R2R_TEST_BINARY:-target/debug/r2r}
[ -x "$r2r" ] || { echo "engine-compare: no r2r binary at $r2r" >&2; exit 2; }
exec "$r2r" compare-engines -- "$@"
