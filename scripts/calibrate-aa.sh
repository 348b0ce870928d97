#!/usr/bin/env bash
# Calibration of the paired start-up interval from recorded A/A rounds, without starting a
# container: `r2r calibrate` draws resamples of ROUNDS rounds from the rounds in which an
# image ran beside its own baseline copy (every `compare --paired-runs` of unchanged images
# records them), and counts how often the 95% interval of the ratio contains 1.00, with that
# coverage's own 95% interval. Exits 1 when the pooled coverage is demonstrably below 90%.
#
#   scripts/calibrate-aa.sh [DIR...]
#
# DIR: results directories holding `compare-startup-runs.csv` files; default the nightly A/A
# kept under docs/data/nightly-aa-20261206 (20 nights of 12 rounds, both cache modes). To
# record new rounds: scripts/calibrate-nightly.sh, which ends by calibrating its own rounds.
# Environment: ROUNDS (default 12), RESAMPLES (default 1000), SEED (default 1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh
r2r_binary debug
[ $# -gt 0 ] || set -- docs/data/nightly-aa-20261206
"$r2r" calibrate "$@" --rounds "${ROUNDS:-12}" --resamples "${RESAMPLES:-1000}" --seed "${SEED:-1}"
