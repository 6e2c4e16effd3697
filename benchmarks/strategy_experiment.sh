#!/usr/bin/env bash
# Evolution against random search at an equal evaluation budget.
#
# Settings: the quick preset on arith alone (the quick search's first task; a second task
# doubles every child's cost on this 2-core machine), two configurations per task and per
# filter (no halving), so that a child costs about four evaluations; a budget of BUDGET
# evaluations per run (filter runs and replicates count, the confirmation does not); the same
# run seeds for both strategies, so runs pair up by seed, 1000 apart so that no two pairs share a
# confirmation seed (a run with seed S confirms on S + 100000 + 0..CONFIRM-1); each run's best
# cell, the GRU and the LSTM confirmed on CONFIRM fresh seeds (8). Both strategies share
# everything but the parent rule; each draws its children from its own random stream
# (`Evolution._step_rng`), so their children differ from the first mutation on. At the end,
# benchmarks/strategy_power.py prints what the runs can detect and what a 3% difference needs. (A first design with one
# configuration per task and filter was stopped after its first run, before any comparison:
# 18 of its 19 children died at the filter, for both strategies alike, since the one inherited
# memorization configuration rarely suits a child; benchmarks/results/strategies-design1/.)
#
#   bash benchmarks/strategy_experiment.sh            # runs/strategies/{evolution,random}-seed{1000..5000}, then the comparison
#   BUDGET=300 SEEDS="1000 2000 3000 4000 5000" WORKERS=2 CONFIRM=8 bash benchmarks/strategy_experiment.sh
#
# Reruns resume (each run is a search run). The comparison goes to runs/strategies/compare.html
# and .png: `python -m evo_rnn.report --compare ... --runs-dir runs/strategies`.
set -euo pipefail
BUDGET="${BUDGET:-36}"
SEEDS="${SEEDS:-1000 2000 3000 4000 5000}"
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
python "$(dirname "$0")/strategy_power.py" "${names[@]/#/$RUNS/}"
