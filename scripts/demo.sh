#!/usr/bin/env bash
# The nasscout demo (`make demo`): every registered strategy x 10 seeds x 200 queries on NB201 CIFAR-10, on the
# simulated clock, then the report (table + regret_vs_queries.png + regret_vs_time.png) in runs/demo.
# Target: under 3 minutes on 2 cores. Override with NASSCOUT=..., OUT=..., SEEDS=..., JOBS=...
set -euo pipefail
cd "$(dirname "$0")/.."
NASSCOUT="${NASSCOUT:-.venv/bin/nasscout}"
OUT="${OUT:-runs/demo}"
SEEDS="${SEEDS:-10}"
JOBS="${JOBS:-2}"

rm -rf "$OUT"
start=$(date +%s)
"$NASSCOUT" run --benchmark nb201 --dataset cifar10 --strategy all --seeds "$SEEDS" --budget-queries 200 \
    --jobs "$JOBS" --out "$OUT"
echo
"$NASSCOUT" report "$OUT"
echo "demo finished in $(( $(date +%s) - start )) s; results in $OUT/"
