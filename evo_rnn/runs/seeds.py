"""The training seeds a run uses besides its own (re-evaluations, confirmation) and the range
every seed must lie in, so a run's seed is checked once, when it is given."""

from __future__ import annotations

from evo_rnn.core.errors import EvoRnnError

__all__ = [
    "CONFIRM_SEED_OFFSET",
    "MAX_CONFIRM_SEEDS",
    "MAX_REPLICATES",
    "MAX_RUN_SEED",
    "REPLICATE_SEED_OFFSET",
    "RUN_SEED_SPAN",
    "SEED_LIMIT",
    "check_seed",
    "confirm_seeds",
    "replicate_seed",
    "tuning_seeds",
]

# Confirmation seed s of a run with seed r trains with seed r + CONFIRM_SEED_OFFSET + s: fresh
# seeds (the search trains with r only), the same for every cell, so runs pair up by seed.
CONFIRM_SEED_OFFSET = 100_000
# Re-evaluation r of a configuration trains with seed r + REPLICATE_SEED_OFFSET + r (r from 0):
# seeds the first training and the confirmation never use, the same for every cell.
REPLICATE_SEED_OFFSET = 50_000
SEED_LIMIT = 2**32  # training seeds are below this (Keras' set_random_seed seeds numpy's legacy generator)
MAX_CONFIRM_SEEDS = 1_000  # a confirmation trains at most this many seeds
MAX_REPLICATES = CONFIRM_SEED_OFFSET - REPLICATE_SEED_OFFSET  # replicate seeds stay below the confirmation's
RUN_SEED_SPAN = CONFIRM_SEED_OFFSET + MAX_CONFIRM_SEEDS - 1  # the seeds a run trains with: its seed + 0..this
MAX_RUN_SEED = SEED_LIMIT - 1 - RUN_SEED_SPAN  # the largest seed a run (search, ablation) may be given


def check_seed(seed: int, flag: str = "--seed", span: int = RUN_SEED_SPAN) -> int:
    """Returns `seed` when it and the `span` seeds after it are valid training seeds (a run's
    seed: its re-evaluation and confirmation seeds too).

    Raises:
        EvoRnnError: the seed is out of range; the message gives the range.
    """
    highest = SEED_LIMIT - 1 - span
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= highest:
        raise EvoRnnError(
            f"{flag} {seed} is out of range: use 0 to {highest} (training seeds are below 2**32, and "
            f"the run also trains with seeds up to {span} above its own)"
        )
    return seed


def replicate_seed(run_seed: int, r: int) -> int:
    """The training seed of a configuration's r-th re-evaluation (r from 0) in a run with seed `run_seed`."""
    return run_seed + REPLICATE_SEED_OFFSET + r


def tuning_seeds(run_seed: int, replicates: int) -> list[int]:
    """The seeds a configuration trains with when it is tried `replicates` times from the start
    (the ablation): the run's seed, then its re-evaluation seeds, as the search's racing adds them."""
    return [run_seed] + [replicate_seed(run_seed, r) for r in range(replicates - 1)]


def confirm_seeds(run_seed: int, seeds: int) -> list[int]:
    """The training seeds of a confirmation with `seeds` seeds for a run with seed `run_seed`."""
    return [run_seed + CONFIRM_SEED_OFFSET + s for s in range(seeds)]
