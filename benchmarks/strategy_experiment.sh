#!/usr/bin/env bash
# Evolution against random search at an equal evaluation budget.
#
# Settings: the default search (preset quick, its default fitness ptb_chars: one configuration,
# the parent's, raced on 2, 4, then 8 seeds against the GRU; docs/search.md); a budget of BUDGET
# evaluations per run (filter runs and race seeds count, the confirmation does not); the same run
# seeds for both strategies, so runs pair up by seed, 1000 apart so that no two pairs share a
# confirmation seed (a run with seed S confirms on S + 100000 + 0..CONFIRM-1); each run's best
# child, the GRU and the LSTM confirmed on CONFIRM fresh seeds (8). Both strategies share
# everything but the parent rule; each draws its children from its own random stream
# (`Evolution._step_rng`), so their children differ from the first mutation on. At the end,
# benchmarks/strategy_power.py prints what the runs can detect and what a 3% difference needs.
# (Earlier designs on quick arith: benchmarks/results/strategies-*; their fitness was too noisy
# to compare anything, benchmarks/README.md.)
#
#   bash benchmarks/strategy_experiment.sh            # runs/strategies/{evolution,random}-seed{1000..5000}, then the comparison
#   BUDGET=150 SEEDS="1000 2000 3000" WORKERS=2 CONFIRM=8 DATA=../shared/data bash benchmarks/strategy_experiment.sh
#
# Reruns resume (each run is a search run). The comparison goes to runs/strategies/compare.html
# and .png: `python -m evo_rnn.report --compare ... --runs-dir runs/strategies`.
set -euo pipefail
BUDGET="${BUDGET:-300}"
SEEDS="${SEEDS:-1000 2000 3000 4000 5000}"
WORKERS="${WORKERS:-2}"
CONFIRM="${CONFIRM:-8}"
RUNS="${RUNS:-runs/strategies}"
DATA="${DATA:-${EVO_RNN_DATA:-datasets}}"
names=()
for seed in $SEEDS; do
  for strategy in evolution random; do
    name="$strategy-seed$seed"
    names+=("$name")
    python -m evo_rnn.search --run "$name" --runs-dir "$RUNS" --strategy "$strategy" --seed "$seed" \
      --data-dir "$DATA" --max-evaluations "$BUDGET" --budget-minutes 600 --workers "$WORKERS" \
      --confirm-seeds "$CONFIRM" --top 1 --no-export --quiet
  done
done
python -m evo_rnn.report --compare "${names[@]}" --runs-dir "$RUNS"
python "$(dirname "$0")/strategy_power.py" "${names[@]/#/$RUNS/}"
