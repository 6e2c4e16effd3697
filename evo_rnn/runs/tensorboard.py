"""Evaluations as TensorBoard runs (`--tensorboard DIR` of evaluate, ablation and search).

Each finished evaluation becomes one run under DIR, written from its `EvalResult` after it
ends (so it has no effect on training, results or the cache, and works for every backend
and engine): per epoch `epoch/loss`, `epoch/val_score` and `epoch/learning_rate`; the final
`valid_score`, `test_score`, `epochs` and `seconds`; and the HParams plugin's summaries (its
configuration with the cell, task, preset, seed, status and phase as hyperparameters; the
dashboard builds its table from them), so TensorBoard's HParams dashboard compares
configurations against final scores across runs and commands:

    tensorboard --logdir DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from evo_rnn.core import backend
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.training.results import EvalResult

__all__ = ["METRICS", "TensorBoardLog", "add_tensorboard_argument"]

METRICS = ("valid_score", "test_score", "epochs", "seconds")  # final values, the HParams dashboard's columns
CURVE = {"loss": "epoch/loss", "val_score": "epoch/val_score", "learning_rate": "epoch/learning_rate"}


def _summary_modules():
    """tf.summary and the HParams plugin's API, imported quietly; a one-line error without them."""
    try:
        with backend.quiet_native_stderr():
            import tensorflow as tf
            from tensorboard.plugins.hparams import api as hp
    except ImportError as error:
        raise EvoRnnError(
            f"--tensorboard needs TensorFlow and TensorBoard ({error}); "
            "install them with `pip install tensorflow tensorboard`"
        ) from None
    return tf, hp


def add_tensorboard_argument(parser: argparse.ArgumentParser) -> None:
    """The `--tensorboard DIR` option, the same for every command that trains."""
    parser.add_argument(
        "--tensorboard",
        metavar="DIR",
        default=None,
        help="also write every evaluation as a TensorBoard run under DIR: loss, validation score and "
        "learning rate per epoch, and HParams summaries; no effect on results or the cache "
        "(default: none)",
    )


class TensorBoardLog:
    """Writes evaluations as TensorBoard runs under `root` (created on first use)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise EvoRnnError(f"--tensorboard {self.root} is a file; pass a folder (it is created if missing)")
        _summary_modules()  # a missing TensorBoard is said before any training, not after

    def run_name(self, result: EvalResult, cell: str, phase: str | None) -> str:
        """A run's folder: readable (cell, task, phase, learning rate, seed) and unique per
        configuration (a hash of it)."""
        config = json.dumps(result.hparams, sort_keys=True)
        digest = hashlib.sha256(f"{cell}:{result.task}:{result.preset}:{config}".encode()).hexdigest()[:8]
        lr = result.hparams.get("learning_rate")
        parts = [
            cell,
            result.task,
            phase,
            f"lr{lr:g}" if isinstance(lr, (int, float)) else None,
            digest,
            f"seed{result.seed}",
        ]
        return re.sub(r"[^A-Za-z0-9_.\-]", "_", "-".join(p for p in parts if p))

    def write(
        self, result: EvalResult, cell: str, phase: str | None = None, extra: dict[str, Any] | None = None
    ) -> Path:
        """Writes one finished evaluation of `cell` (a zoo name, file stem or hash) as a run;
        `phase` (e.g. tune, confirm, rung, replicate) and `extra` become hyperparameters too.
        Returns the run's folder."""
        tf, hp = _summary_modules()
        self.root.mkdir(parents=True, exist_ok=True)
        folder = self.root / self.run_name(result, cell, phase)
        hparams: dict[str, Any] = {
            "cell": cell,
            "task": result.task,
            "preset": result.preset,
            "seed": result.seed,
            "status": str(result.status),
            "phase": phase or "",
        }
        hparams.update({k: v for k, v in result.hparams.items() if isinstance(v, (bool, int, float, str))})
        hparams.update(extra or {})
        writer = tf.summary.create_file_writer(str(folder))
        with writer.as_default():
            hp.hparams(hparams, trial_id=folder.name)
            for point in result.curve:
                for key, tag in CURVE.items():
                    if point.get(key) is not None:
                        tf.summary.scalar(tag, float(point[key]), step=int(point["epoch"]))
            for metric in METRICS:
                tf.summary.scalar(metric, float(getattr(result, metric)), step=0)
        writer.flush()
        writer.close()
        return folder
