#!/usr/bin/env bash
# A claim about a found cell, not one configuration of it: the cell ablated beside the GRU and
# the LSTM in independent runs (each draws its own configuration bank, tunes on its own seeds
# and confirms on its own fresh seeds), then the runs combined with intervals over runs
# (`python -m evo_rnn.ablation --across`, docs/search.md). The seeds below were never used by
# the search that found the cell (a run with seed S trains with S, S + 50,000 + r and
# S + 100,000 + s).
#
#   DATA=../shared/data bash benchmarks/cell_claim.sh
#   CELL=path/to/cell.json SEEDS="7000 8000 9000 10000" TRIALS=8 CONFIRM=16 bash benchmarks/cell_claim.sh
#
# Reruns resume (each run is an ablation run under RUNS).
set -euo pipefail
CELL="${CELL:-saved_architectures/reference-default-seed3/1-8cf3c764/cell.json}"
TASKS="${TASKS:-ptb_chars}"
SEEDS="${SEEDS:-7000 8000 9000}"
TRIALS="${TRIALS:-4}"
REPLICATES="${REPLICATES:-2}"
CONFIRM="${CONFIRM:-8}"
WORKERS="${WORKERS:-2}"
RUNS="${RUNS:-runs/cell-claims}"
DATA="${DATA:-${EVO_RNN_DATA:-datasets}}"
names=()
for seed in $SEEDS; do
  name="claim-seed$seed"
  names+=("$name")
  python -m evo_rnn.ablation --run "$name" --runs-dir "$RUNS" --cells "gru,lstm,$CELL" --tasks "$TASKS" \
    --trials "$TRIALS" --replicates "$REPLICATES" --confirm-seeds "$CONFIRM" --seed "$seed" \
    --data-dir "$DATA" --workers "$WORKERS"
done
python -m evo_rnn.ablation --across "${names[@]}" --runs-dir "$RUNS"
