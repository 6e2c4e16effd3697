"""How a step of a run ends (`Outcome`, stored in the run database as its text) and the groups
of outcomes the search, its progress line, the report and the strategy comparison count."""

from __future__ import annotations

import enum

__all__ = ["CHILD_OUTCOMES", "MUTATE_OUTCOMES", "SCORED_CHILD_OUTCOMES", "SCORED_OUTCOMES", "Outcome"]


class Outcome(enum.StrEnum):
    """How a step ended (stored as its text)."""

    SEEDED = "seeded"  # a seed cell was evaluated on every task
    ACCEPTED = "accepted"  # a child was scored on every task and entered the population
    EVALUATED = "evaluated"  # a child was scored on every task but is not among the best
    FILTERED = "filtered"  # a child failed the memorization filter
    REJECTED = "rejected"  # a child stayed below `first_task_ratio` of the GRU on the first task
    DUPLICATE = "duplicate"  # the child was an architecture seen before; nothing was trained
    REEVALUATED = "reevaluated"  # a member's best configurations got a fresh seed
    UNMUTABLE = "unmutable"  # no valid child could be drawn from the parent


CHILD_OUTCOMES = (Outcome.FILTERED, Outcome.REJECTED, Outcome.ACCEPTED, Outcome.EVALUATED)  # a new child ends so
# Every way a mutate step ends, in the order of the report's funnel.
MUTATE_OUTCOMES = (
    Outcome.DUPLICATE,
    Outcome.UNMUTABLE,
    Outcome.FILTERED,
    Outcome.REJECTED,
    Outcome.EVALUATED,
    Outcome.ACCEPTED,
)
SCORED_OUTCOMES = (Outcome.SEEDED, Outcome.ACCEPTED, Outcome.REEVALUATED)  # the score is a population member's
SCORED_CHILD_OUTCOMES = (Outcome.ACCEPTED, Outcome.EVALUATED)  # child steps that end with a score on every task
