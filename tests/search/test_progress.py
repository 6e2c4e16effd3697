"""The search's live panel (`evo_rnn.search.progress`)."""

from __future__ import annotations

import pytest

from conftest import run_search, search_preset


def test_the_live_panel_shows_the_populations_leaders_as_the_one_leaderboard_scores_them(store):
    from rich.console import Console

    from evo_rnn.search.progress import Progress

    search = run_search(store, search_preset(), max_candidates=6)
    progress = Progress(live=False, leaders=3).attach(search)
    rows = progress.leaderboard()
    leaders = list(search.evolution.population())[:3]
    assert [row.arch for row in rows] == leaders and [row.rank for row in rows] == [1, 2, 3]
    assert [row.score for row in rows] == pytest.approx([search.evolution.overall_score(a) for a in leaders])
    console = Console(record=True, width=160)
    console.print(progress._render())
    text = console.export_text()
    for row in rows:
        assert row.arch[:8] in text and f"{row.score:.4f}" in text
        assert f"{row.tasks['arith'].ratio_to_gru:.3f}" in text
