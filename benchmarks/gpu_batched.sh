#!/usr/bin/env bash
# The batched-engine benchmark on a GPU with JAX, as run on the lent H100/H200 (no TensorFlow there):
# solo Keras evaluations against batched jobs, the same configurations and seeds, one script.
# Writes every figure to $OUT/gpu.jsonl (or ./gpu.jsonl) and logs to stdout.
set -uo pipefail
out="${OUT:-.}"
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"
run() { timeout "$1" python3 benchmarks/batched_throughput.py --backend jax --json "$out/gpu.jsonl" "${@:2}" 2>&1 \
          | grep -v "^WARNING\|^I0000\|^W0000\|^E0000\|retracing"; }
run 240 --batched 8 --evaluations 8 --solo-engine    # solo Keras, the engine one at a time, P = 8
run 150 --batched 64 --evaluations 64 --skip-solo      # 64 quick evaluations, P = 64
run 150 --batched 256 --evaluations 256 --skip-solo    # 256, P = 256
