"""Live progress of a search: a rich panel on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import Any

from evo_rnn.runs.outcomes import Outcome
from evo_rnn.scoring.paper_scores import LeaderRow

__all__ = ["Progress"]


class Progress:
    """Shows what a running search (a `Scheduler`) is doing.

    On a terminal: a live panel with the children evaluated, filtered and accepted, the
    best score, a leaderboard and evaluations per minute. Elsewhere (a log file, CI):
    one line per finished step.

    Args:
        live: draw the live panel (default: when stderr is a terminal).
        leaders: rows of the leaderboard.
    """

    def __init__(self, live: bool | None = None, leaders: int = 5):
        self.live = sys.stderr.isatty() if live is None else live
        self.leaders = leaders
        self.search = None
        self._live = None
        self._started = time.monotonic()
        self._last_draw = 0.0

    def attach(self, search) -> Progress:
        self.search = search
        return self

    def __enter__(self) -> Progress:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(), console=Console(stderr=True), refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(*exc)
            self._live = None

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        """The search's event hook."""
        if kind == "step" and not self.live:
            score = "" if data["score"] is None else f" score {data['score']:.4f}"
            print(
                f"step {data['id']:>4} {data['kind']:10} {data['arch'][:8]} {data['outcome']}{score} "
                f"{_short(data['detail'])}",
                file=sys.stderr,
                flush=True,
            )
        elif kind == "retry":
            print(
                f"retrying {data['arch'][:8]} on {data['task']} (attempt {data['attempt']}): {data['message']}",
                file=sys.stderr,
                flush=True,
            )
        if self._live is not None and time.monotonic() - self._last_draw > 0.5:
            self._last_draw = time.monotonic()
            self._live.update(self._render())

    def _per_minute(self, count: int) -> float:
        return count / (max(time.monotonic() - self._started, 1e-9) / 60)

    def summary_line(self) -> str:
        """The run in one line; the children's parts add up to their number."""
        counts = self.search.counts()
        return (
            f"children {counts['candidates']} (filtered {counts[Outcome.FILTERED]}, "
            f"rejected {counts[Outcome.REJECTED]}, accepted {counts[Outcome.ACCEPTED]}, "
            f"scored but not kept {counts[Outcome.EVALUATED]}, unfinished {counts['unfinished']}), "
            f"duplicates {counts[Outcome.DUPLICATE]}, re-evaluations {counts[Outcome.REEVALUATED]}; "
            f"evaluations this session: {counts['trained']} trained, {counts['cache_hits']} from the cache, "
            f"{self._per_minute(counts['trained']):.1f}/min; search time {self.search.elapsed() / 60:.1f} min"
        )

    def leaderboard(self) -> list[LeaderRow]:
        """The population's first `leaders` members (by their score when it was last updated),
        as rows of the one leaderboard (`Scores.leaderboard`, scored now)."""
        evolution = self.search.evolution
        return evolution.scores.leaderboard(list(evolution.population())[: self.leaders], ranked=False)

    def _render(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        from evo_rnn.scoring.paper_scores import BaselineError

        if self.search is None:
            return Text("starting...")
        counts = self.search.counts()
        head = Table.grid(padding=(0, 2))
        head.add_row(
            "children",
            str(counts["candidates"]),
            "filtered",
            str(counts[Outcome.FILTERED]),
            "rejected",
            str(counts[Outcome.REJECTED]),
            "accepted",
            str(counts[Outcome.ACCEPTED]),
            "not kept",
            str(counts[Outcome.EVALUATED]),
        )
        head.add_row(
            "re-evaluations",
            str(counts[Outcome.REEVALUATED]),
            "duplicates",
            str(counts[Outcome.DUPLICATE]),
            "evaluations",
            f"{counts['trained']} (+{counts['cache_hits']} cached)",
            "per minute",
            f"{self._per_minute(counts['trained']):.1f}",
            "",
            "",
        )
        head.add_row(
            "in flight",
            str(counts["in_flight"]),
            "search time",
            f"{self.search.elapsed() / 60:.1f} min",
            "",
            "",
            "",
            "",
            "",
            "",
        )
        board = Table(title="population: score = min over tasks of (best score / best GRU score)", min_width=72)
        board.add_column("#")
        board.add_column("cell")
        board.add_column("origin")
        board.add_column("score", justify="right")
        tasks = list(self.search.evolution.tasks)
        for task in tasks:
            board.add_column(task, justify="right")
        try:
            for row in self.leaderboard():
                origin = self.search.store.lineage(row.arch)["origin"]
                board.add_row(
                    str(row.rank),
                    row.arch[:8],
                    origin,
                    f"{row.score:.4f}",
                    *[f"{row.tasks[t].ratio_to_gru:.3f}" for t in tasks],
                )
        except BaselineError:  # no baseline yet: the seeds are still running
            pass
        return Group(head, board)


def _short(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in sorted(detail.items()):
        if isinstance(value, float):
            parts.append(f"{key}={value:.3f}")
        elif isinstance(value, dict):
            parts.append(
                f"{key}=" + ",".join(f"{k}:{v:.3f}" if isinstance(v, float) else f"{k}:{v}" for k, v in value.items())
            )
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)
