"""Polyphonic music (Boulanger-Lewandowski et al. 2012): next piano-roll step with independent sigmoids."""

from __future__ import annotations

import dataclasses
import numbers
import os
import pickle

import numpy as np

from evo_rnn.core.errors import DataIntegrityError, UnknownNameError
from evo_rnn.tasks.base import SPLITS, Split, Task, TaskData, pad_sequences
from evo_rnn.tasks.data_files import read_verified
from evo_rnn.tasks.safe_pickle import safe_loads

__all__ = ["MUSIC_FILES", "MusicConfig", "MusicTask", "canonical_music", "piano_roll"]

MUSIC_FILES = {
    "nottingham": "music/Nottingham.pickle",
    "jsb": "music/JSB Chorales.pickle",
    "musedata": "music/MuseData.pickle",
    "piano": "music/Piano-midi.de.pickle",
}
LOWEST, HIGHEST = 21, 108  # MIDI notes of the piano's 88 keys
NOTES = HIGHEST - LOWEST + 1


@dataclasses.dataclass(frozen=True)
class MusicConfig:
    """Settings of the music tasks."""

    chunk_length: int | None = 200  # cut pieces into chunks of this many predicted steps; None: whole pieces
    max_pieces: int | None = None  # use only the first N pieces of each split (quick runs)


def canonical_music(raw: bytes) -> tuple[dict[str, list], bytes]:
    """Reads a music pickle safely and returns (content, canonical bytes).

    Accepts the shared files and the authors' originals (tuples, numpy ints, any note
    order); the content is `{"train", "valid", "test"}` -> pieces -> steps -> sorted notes,
    plain ints, and the canonical bytes are its protocol-2 pickle (what the checksum is of).

    Raises:
        UnsafePickleError, DataIntegrityError: not a safe, well-formed music dataset.
    """
    data = safe_loads(raw)
    if not isinstance(data, dict) or set(data) != set(SPLITS):
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise DataIntegrityError(f"a music pickle is a dict with keys train, valid, test; got {keys}")
    content: dict[str, list] = {}
    for split in SPLITS:
        pieces = data[split]
        if not isinstance(pieces, (list, tuple)):
            raise DataIntegrityError(f"split {split!r} must be a list of pieces, got {type(pieces).__name__}")
        content[split] = []
        for p, piece in enumerate(pieces):
            if not isinstance(piece, (list, tuple, np.ndarray)):
                raise DataIntegrityError(f"{split} piece {p} must be a list of time steps, got {type(piece).__name__}")
            steps = []
            for t, step in enumerate(piece):
                if not isinstance(step, (list, tuple, np.ndarray)) or not all(
                    isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in step
                ):
                    raise DataIntegrityError(f"{split} piece {p} step {t} must be a list of MIDI note numbers")
                notes = sorted(int(n) for n in step)
                if notes and (notes[0] < LOWEST or notes[-1] > HIGHEST):
                    raise DataIntegrityError(
                        f"{split} piece {p} step {t} holds note {notes[0] if notes[0] < LOWEST else notes[-1]}, "
                        f"outside the piano's MIDI range {LOWEST}..{HIGHEST}"
                    )
                steps.append(notes)
            content[split].append(steps)
    return content, pickle.dumps(content, protocol=2)


def piano_roll(piece: list[list[int]]) -> np.ndarray:
    """float32 [steps, 88]: 1 where a note sounds (column 0 is MIDI note 21)."""
    roll = np.zeros((len(piece), NOTES), dtype="float32")
    counts = [len(notes) for notes in piece]
    if sum(counts):
        steps = np.repeat(np.arange(len(piece)), counts)
        roll[steps, np.fromiter((n for notes in piece for n in notes), dtype=int) - LOWEST] = 1.0
    return roll


class MusicTask(Task):
    """Predict the next 88-key piano-roll step; metric: NLL per time step (summed over the
    notes); score exp(-NLL)."""

    input_kind = "dense"
    loss = "binary_crossentropy"
    description = "polyphonic music: predict the next piano-roll step (88 independent sigmoids)"

    def __init__(self, variant: str, config: MusicConfig | None = None, data_dir: str | os.PathLike | None = None):
        if variant not in MUSIC_FILES:
            raise UnknownNameError(f"unknown music dataset {variant!r}; known: {', '.join(MUSIC_FILES)}")
        self.name = variant
        self.path = MUSIC_FILES[variant]
        self.config = config or MusicConfig()
        self.data_dir = data_dir
        self.input_size = self.output_size = NOTES

    def pieces(self) -> dict[str, list]:
        """The verified dataset: split -> pieces -> steps -> sorted MIDI notes."""
        # The published file is already canonical: parse it; anything else is checked by content.
        _, content = read_verified(self.path, self.data_dir, parse=safe_loads, canonicalize=canonical_music)
        return content

    def _split(self, pieces: list) -> Split:
        length = self.config.chunk_length
        inputs, targets = [], []
        for piece in pieces[: self.config.max_pieces]:
            roll = piano_roll(piece)
            if len(roll) < 2:
                continue
            step = length or len(roll) - 1
            for start in range(0, len(roll) - 1, step):
                inputs.append(roll[start : start + step])
                targets.append(roll[start + 1 : start + 1 + step])
                inputs[-1] = inputs[-1][: len(targets[-1])]
        weights = [np.ones(len(t), dtype="float32") for t in targets]
        return Split(
            pad_sequences(inputs, "float32"), pad_sequences(targets, "float32"), pad_sequences(weights, "float32")
        )

    def data(self, seed: int) -> TaskData:
        pieces = self.pieces()
        return TaskData(*(self._split(pieces[s]) for s in SPLITS))

    def metrics(self, split: Split, nll: np.ndarray, correct: np.ndarray | None) -> dict[str, float]:
        w = split.weights
        per_step = float((nll * w).sum() / w.sum())
        return {"score": float(np.exp(-per_step)), "nll": per_step, "nll_per_step": per_step}

    def decode(self, split: Split, index: int) -> str:
        names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
        lines = []
        for t in range(min(6, int(split.weights[index].sum()))):
            notes = np.flatnonzero(split.inputs[index, t]) + LOWEST
            lines.append(f"step {t}: " + (" ".join(f"{names[n % 12]}{n // 12 - 1}" for n in notes) or "(silence)"))
        return "\n".join(lines)
