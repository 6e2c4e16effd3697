#!/usr/bin/env bash
# Evolution against random search at an equal evaluation budget (issue 21, item 6).
#
# Settings: the quick preset on arith alone (the quick search's first task; a second task
# doubles every child's cost on this 2-core machine), two configurations per task and per
# filter (no halving), so that a child costs about four evaluations; a budget of BUDGET
# evaluations per run (filter runs and replicates count, the confirmation does not); run seeds
# 1-5 for both strategies; each run's best cell, the GRU and the LSTM confirmed on CONFIRM
# fresh seeds (8; the first experiment, benchmarks/results/strategies/, used 3). Both
# strategies share everything but the parent rule. (A first design with one
# configuration per task and filter was stopped after its first run, before any comparison:
# 18 of its 19 children died at the filter, for both strategies alike, since the one inherited
# memorization configuration rarely suits a child; benchmarks/results/strategies-design1/.)
#
#   bash benchmarks/strategy_experiment.sh            # runs/strategies/{evolution,random}-seed{1..5}, then the comparison
#   BUDGET=36 SEEDS="1 2 3 4 5" WORKERS=2 CONFIRM=8 bash benchmarks/strategy_experiment.sh
#
# Reruns resume (each run is a search run). The comparison goes to runs/strategies/compare.html
# and .png: `python -m evo_rnn.report --compare ... --runs-dir runs/strategies`.
set -euo pipefail
BUDGET="${BUDGET:-36}"
SEEDS="${SEEDS:-1 2 3 4 5}"
WORKERS="${WORKERS:-2}"
CONFIRM="${CONFIRM:-8}"
RUNS="${RUNS:-runs/strategies}"
names=()
for seed in $SEEDS; do
  for strategy in evolution random; do
    name="$strategy-seed$seed"
    names+=("$name")
    python -m evo_rnn.search --run "$name" --runs-dir "$RUNS" --strategy "$strategy" --seed "$seed" \
      --tasks arith --max-evaluations "$BUDGET" --budget-minutes 600 --workers "$WORKERS" \
      --set search.halving_configs=0 --set search.configs_per_task=2 --set search.filter_configs=2 \
      --confirm-seeds "$CONFIRM" --top 1 --no-export --quiet
  done
done
python -m evo_rnn.report --compare "${names[@]}" --runs-dir "$RUNS"
