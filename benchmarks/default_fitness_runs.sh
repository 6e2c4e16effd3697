#!/usr/bin/env bash
# The default search (`python -m evo_rnn.search`, no flags but where its files go and its seed),
# on the run seeds given (chosen before looking: 1 and 2), one after the other, each timed; the
# run databases and exports land in benchmarks/results/default-fitness/. Then
# `python benchmarks/default_fitness_check.py` reads them (search score against confirmed ratio).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/benchmarks/results/default-fitness"
DATA="${EVO_RNN_DATA:-$ROOT/../shared/data}"
mkdir -p "$OUT"
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2)
for seed in "${seeds[@]}"; do
  start=$(date +%s)
  python -m evo_rnn.search --run "default-seed$seed" --seed "$seed" --runs-dir "$OUT/runs" --out "$OUT/exports" \
    --data-dir "$DATA" --quiet 2> "$OUT/default-seed$seed.log" && status=0 || status=$?
  echo "seed $seed: exit $status in $(( $(date +%s) - start )) s (load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$OUT/times.txt"
done
