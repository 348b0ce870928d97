#!/usr/bin/env bash
# Makes a set of the figures the docs state, and keeps its raw data under docs/data/, so that a
# reader can check a figure without re-running it and re-make it with one command.
#
#   scripts/figures.sh NAME...     (list: scripts/figures.sh --list)
#
# Each NAME runs the command its figures come from, in a results root of its own (never
# results/), then copies the run's small files (run.json, plan.json, scenario.toml, build.json,
# verify.json, sizes.csv, layers.csv, sharing.csv, anatomy.csv (under 1 MB), startup.csv,
# startup-runs.csv, summary.json, answer.csv, node.csv, load.csv, load-runs.csv, report.md, and
# tune/ of `r2r tune`; no plots) to docs/data/<NAME>-<run-id>/ with `command.txt`: the
# command line, the commit and the machine. The docs name that folder beside each figure
# (docs/figures.md). Start-up figures want an otherwise idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

# The aspnet-composite images of the recipe scenarios (slim base) and their baselines: the
# images the recipe start-up tables compare. (official-net10 leaves the runtime as shipped: its
# console image is the as-shipped one, so the plan has none of its own.)
recipe_images() {
  local recipes=$1 list="no-composite.console,no-composite.webapi"
  for recipe in $recipes; do
    local variant=aspnet-composite
    [ "$recipe" = full ] || variant="aspnet-composite.$recipe"
    [ "$recipe" = official-net10 ] || list="$list,$variant.console"
    list="$list,$variant.webapi"
  done
  echo "$list"
}

# The web API images the new-node and load figures compare: as shipped, `full`, and the
# version's official and partial-pgo recipes on the aspnet composite.
deploy_images() {
  echo "no-composite.webapi,aspnet-composite.webapi,aspnet-composite.official-$1.webapi,aspnet-composite.partial-pgo.webapi"
}
composite_webapi="no-composite.webapi,runtime-composite.webapi,aspnet-composite.webapi,composed-composite.webapi,selfcontained-composite.webapi"

declare -A SETS=(
  [quick-cold]="r2r run --scenario quick --cache cold --runs 20"
  [recipes-net10]="r2r run --scenario composite-recipes-net10 --cache both --precision 3% --max-time 15m --only $(recipe_images "full official-net10 official-net8-no-isa partial-pgo")"
  [recipes-net8]="r2r run --scenario composite-recipes-net8 --cache both --precision 3% --max-time 15m --only $(recipe_images "full official-net8 official-net8-no-isa partial-pgo")"
  [trimmed]="r2r run --scenario trimmed-composite --runs 10"
  [quick-platforms]="r2r run --scenario quick-platforms --runs 3"
  [templates]="r2r run --scenario templates"
  [tune-webapi]="r2r tune --scenario composite-recipes-net10 --apps webapi --precision 3% --max-time 10m"
  [tune-console]="r2r tune --scenario composite-recipes-net10 --apps console --precision 3% --max-time 6m"
  [tune-templates]="r2r tune --scenario templates --apps tpl-mvc,tpl-blazor --precision 5% --max-time 15m"
  [tune-tpl-webapi]="r2r tune --scenario templates --apps tpl-webapi --precision 5% --max-time 7m"
  [node-composite]="r2r measure node --scenario composite --only $composite_webapi --node-rounds 6"
  [node-recipes-net8]="r2r measure node --scenario composite-recipes-net8 --only $(deploy_images net8) --node-rounds 4"
  [node-recipes-net10]="r2r measure node --scenario composite-recipes-net10 --only $(deploy_images net10) --node-rounds 4"
  [load-recipes-net8]="r2r measure load --scenario composite-recipes-net8 --only $(deploy_images net8) --load-rounds 6 --load-seconds 30"
  [load-recipes-net10]="r2r measure load --scenario composite-recipes-net10 --only $(deploy_images net10) --load-rounds 6 --load-seconds 30"
)

if [ "${1:-}" = --list ] || [ $# -eq 0 ]; then
  for name in "${!SETS[@]}"; do printf '%-16s %s\n' "$name" "${SETS[$name]}"; done | sort
  [ $# -gt 0 ] || { echo "figures: give one or more names" >&2; exit 2; }
  exit 0
fi
for name in "$@"; do
  [ -n "${SETS[$name]:-}" ] || {
    echo "figures: unknown set '$name'; known: $(printf '%s ' "${!SETS[@]}")" >&2
    exit 2
  }
done

r2r_binary release
for name in "$@"; do
  command=${SETS[$name]}
  root=$(mktemp -d)
  echo "figures: $name: $command (results in $root)"
  # shellcheck disable=SC2086 # the command is a word list
  set +e
  R2R_RESULTS_DIR=$root "$r2r" ${command#r2r }
  code=$?
  set -e
  scenario=$(sed -n 's/.*--scenario \([^ ]*\).*/\1/p' <<<"$command")
  # `r2r tune` runs the scenario it makes, `<scenario>-tuned`.
  [[ "$command" != "r2r tune "* ]] || scenario="$scenario-tuned"
  run=$(readlink -f "$root/$scenario/latest" || true)
  if [ -z "$run" ] || [ ! -d "$run" ]; then
    echo "figures: $name made no run (exit $code)" >&2
    exit 2
  fi
  keep="docs/data/$name-$(basename "$run")"
  mkdir -p "$keep"
  for file in run.json plan.json scenario.toml build.json verify.json sizes.csv layers.csv \
    sharing.csv anatomy.csv startup.csv startup-runs.csv summary.json answer.csv node.csv load.csv \
    load-runs.csv report.md; do
    [ -f "$run/$file" ] || continue
    # The anatomy of a large scenario (megabytes) stays out: no figure of these sets uses it.
    if [ "$file" = anatomy.csv ] && [ "$(stat -c %s "$run/$file")" -gt 1000000 ]; then
      echo "figures: $name: anatomy.csv not kept ($(stat -c %s "$run/$file") bytes)"
      continue
    fi
    cp "$run/$file" "$keep/"
  done
  [ ! -d "$run/tune" ] || cp -r "$run/tune" "$keep/"
  {
    echo "$command"
    echo "exit $code; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- harness experiments scenarios || echo ' (with changes)')"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
  } >"$keep/command.txt"
  rm -rf "$root"
  echo "figures: $name kept in $keep (exit $code)"
done
