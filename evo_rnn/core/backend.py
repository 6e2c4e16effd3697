"""A process's set-up for the numeric backend: TensorFlow's C++ log level, its quiet start-up,
a worker's threads and GPU memory, and the housekeeping of TensorFlow's gradient registry. The
one place that decides what TensorFlow prints.

Nothing here imports Keras or TensorFlow at import time: `quiet_tensorflow_log` must run
before they are first imported (the package's `__init__` calls it).
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = [
    "BATCHED_MEMBERS",
    "SHOW_STARTUP_ENV",
    "TF_LOG_LEVEL_ENV",
    "accelerator",
    "configure_worker",
    "custom_gradient_names",
    "default_batched_members",
    "forget_custom_gradients",
    "quiet_native_stderr",
    "quiet_tensorflow_log",
    "warm_up",
    "worker_environment",
]

TF_LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
SHOW_STARTUP_ENV = "EVO_RNN_SHOW_TF_STARTUP"  # "1": leave TensorFlow's C++ log and start-up notes alone
# 3 hides TensorFlow's C++ ERROR lines too: a failed `cuInit` probe on a machine without a GPU
# driver, and a tf.data "NodeDef mentions attribute use_unbounded_threadpool" line for every
# evaluation. Neither means anything is wrong; real failures still arrive as Python exceptions.
QUIET_TF_LOG_LEVEL = "3"

# The user's own choice, read before anything (JAX, which `import keras` loads when it is
# installed, does `setdefault(TF_CPP_MIN_LOG_LEVEL, "1")`) could set it.
_USER_TF_LOG_LEVEL = os.environ.get(TF_LOG_LEVEL_ENV)


def quiet_tensorflow_log() -> None:
    """Sets TensorFlow's C++ log level to `QUIET_TF_LOG_LEVEL`, unless the user set
    `TF_CPP_MIN_LOG_LEVEL` before evo_rnn was imported or asked for the start-up notes
    (`EVO_RNN_SHOW_TF_STARTUP=1`). It holds for this process when TensorFlow is not loaded
    yet, and for every worker process started from it (they inherit the environment)."""
    if _USER_TF_LOG_LEVEL is None and os.environ.get(SHOW_STARTUP_ENV) != "1":
        os.environ[TF_LOG_LEVEL_ENV] = QUIET_TF_LOG_LEVEL


def worker_environment() -> dict[str, str]:
    """The environment variables this module decided that a worker started elsewhere (a Ray
    node) must have; local processes inherit them."""
    level = os.environ.get(TF_LOG_LEVEL_ENV)
    return {} if level is None else {TF_LOG_LEVEL_ENV: level}


@contextlib.contextmanager
def quiet_native_stderr():
    """Hides what native code writes to file descriptor 2 meanwhile (TensorFlow's start-up
    notes on oneDNN and CUDA drivers, which no log level turns off). `EVO_RNN_SHOW_TF_STARTUP=1`
    keeps them."""
    if os.environ.get(SHOW_STARTUP_ENV) == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded interpreters, notebooks)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# The most members one batched job trains when the search's --batched is `auto`, per kind of
# hardware: chosen from benchmarks/batched_throughput.py's measurements (the speed-ups are in
# benchmarks/README.md, "Batched evaluation").
BATCHED_MEMBERS = {"cpu": 16, "gpu": 256}


def accelerator() -> str:
    """ "gpu" when the Keras backend computes on a GPU, else "cpu"."""
    import keras

    with quiet_native_stderr():  # a machine without a GPU driver logs a failed cuInit
        if keras.backend.backend() == "jax":
            import jax

            return "gpu" if jax.default_backend() in ("gpu", "cuda", "rocm") else "cpu"
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return "cpu"


def default_batched_members() -> int:
    """`BATCHED_MEMBERS` for this process's hardware."""
    return BATCHED_MEMBERS[accelerator()]


_warmed_up = False


def warm_up() -> None:
    """Starts TensorFlow's devices and runs one tiny training step with native stderr hidden,
    so that whatever TensorFlow prints the first time it runs (device probes, the first
    tf.data pipeline) stays out of the user's log. Once per process; nothing to do on
    another backend."""
    global _warmed_up
    import keras
    import numpy as np

    if _warmed_up or keras.backend.backend() != "tensorflow":
        return
    _warmed_up = True
    with quiet_native_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        model.fit(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0)
        keras.backend.clear_session()


def configure_worker(threads: int | None) -> None:
    """Prepares a worker process before TensorFlow runs anything: GPU memory grows on demand
    (TensorFlow takes a whole card by default, which breaks several evaluations per GPU),
    its thread pools get `threads` threads (None: TensorFlow's default), then `warm_up`."""
    import logging

    import keras

    # Every evaluation builds new models, so TensorFlow's "N out of the last M calls triggered
    # retracing" warnings are expected in a worker; they would flood the search's output.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with quiet_native_stderr():  # a machine without a GPU driver logs a failed cuInit
            gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
    warm_up()


# ----------------------------------------------------------------- TensorFlow's gradient registry


def custom_gradient_names() -> set[str] | None:
    """The names in TensorFlow's global gradient registry (None off TensorFlow)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    try:
        from tensorflow.python.framework import ops as tf_ops

        return set(tf_ops._gradient_registry._registry)
    except (ImportError, AttributeError):  # a TensorFlow without this internal: nothing to clean
        return None


def forget_custom_gradients(before: set[str] | None) -> None:
    """Drops the gradient functions registered since `before` (`custom_gradient_names`).

    Each traced training step registers a `tf.custom_gradient` function (from
    tf.distribute's all-reduce) under a new `CustomGradient-N` name in a global registry
    that TensorFlow never empties; it holds the step's whole graph, so every evaluation
    leaked about 7 MB. The graphs are dead after `clear_session`, so their entries can go.
    One evaluation runs at a time in a process; this is not safe beside concurrent traces.
    """
    if before is None:
        return
    from tensorflow.python.framework import ops as tf_ops

    registry = tf_ops._gradient_registry._registry
    for name in [n for n in registry if n not in before and n.startswith("CustomGradient-")]:
        del registry[name]
