"""`python -m evo_rnn.report --run NAME [-o FILE.html]`: one self-contained HTML page about a
search run (or, with `--compare RUN RUN ...`, about search strategies compared over runs:
`evo_rnn.scoring.strategy_comparison`), read from its database (so it works on a run still
going, and on a killed one). An ablation run (`python -m evo_rnn.ablation`) gets its comparison
table instead: confirmed scores with intervals, ratios to the GRU, the paper's figures and
tiers, and the spread.

It shows the leaderboard (sortable; scores, ratios to the GRU and the LSTM, confirmation
intervals where the run has them, configurations tried), each top cell's diagram with what
its mutations changed against its parent drawn in red and its lineage back to a zoo cell,
the search over time (the best score any step recorded against evaluations and wall time),
the funnel of children, evaluations per minute and per worker, learning curves of each top
cell beside the GRU and the LSTM, and per task the spread of scores over configurations
(the noise a reader must see before believing a ratio). Plots are matplotlib PNGs and
diagrams Graphviz PNGs, embedded as data URIs: the file opens offline. Every export writes
one next to its leaderboard.
"""

from __future__ import annotations

import base64
import bisect
import datetime
import html
import io
import random
from pathlib import Path

import networkx as nx

from evo_rnn.cells import diagram, zoo
from evo_rnn.core.atomic_files import atomic_path, check_output
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.outcomes import MUTATE_OUTCOMES, SCORED_OUTCOMES, Outcome
from evo_rnn.runs.run import Run, RunFiles
from evo_rnn.scoring import strategy_comparison, tables
from evo_rnn.scoring.paper_scores import Scores, verdict

__all__ = ["comparison_figure", "render_comparison", "render_report", "write_comparison", "write_report"]


_STYLE = """
body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:75em;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:0.3em 0.6em;text-align:right}
th{background:#f0f0f0;cursor:pointer;user-select:none}td:nth-child(2),th:nth-child(2){text-align:left}
.cell{display:inline-block;vertical-align:top;margin:0 1.5em 1.5em 0;max-width:36em}img{max-width:100%}
.note{color:#666;font-size:0.9em}code{background:#f4f4f4;padding:0 0.2em}
"""
_SORT = """
document.querySelectorAll('table.sortable th').forEach(function(th, column) {
  th.addEventListener('click', function() {
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
    var up = th.dataset.up !== '1'; th.dataset.up = up ? '1' : '0';
    var key = function(row) { var t = row.cells[column].dataset.v || row.cells[column].textContent;
      var n = parseFloat(t); return isNaN(n) ? t : n; };
    rows.sort(function(a, b) { var x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (up ? 1 : -1); });
    rows.forEach(function(row) { body.appendChild(row); });
  });
});
"""


def _figure(width: float = 7.0, height: float = 3.2, columns: int = 1, rows: int = 1):
    from matplotlib.figure import (
        Figure,  # no pyplot: no global state, no display needed
    )

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(rows, columns, squeeze=False)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _plot(figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    return _img(buffer.getvalue(), alt)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def graph_diff(parent: nx.DiGraph, child: nx.DiGraph) -> tuple[set[str], set[tuple[str, str]]]:
    """The child's nodes and edges that its parent does not have as they are: new nodes, nodes
    whose op, attributes or inputs changed, and new edges (node names carry over in a mutation)."""
    nodes = {
        n
        for n in child
        if n not in parent
        or parent.nodes[n] != child.nodes[n]
        or set(parent.predecessors(n)) != set(child.predecessors(n))
    }
    edges = {e for e in child.edges if not parent.has_edge(*e)}
    return nodes, edges


class _Page:
    """What the report reads from one run, computed once."""

    def __init__(self, run: Run, top: int):
        self.run, self.name, self.settings, self.preset = run, run.name, run.settings, run.preset
        self.scores = Scores.of(run)
        self.tasks = list(self.scores.tasks)
        members = list(run.members())
        self.has_baseline = all(self.scores.has_baseline(task) for task in self.tasks)
        # The children ranked, then the seed cells as baselines (never ranked among them).
        self.board, self.named = self.scores.board(members) if members and self.has_baseline else ([], {})
        self.ranked = [row.arch for row in self.board if row.arch not in self.named]
        self.top = self.ranked[:top]
        self.lstm = run.find_architecture(zoo.get("lstm"))
        self.baselines = {"gru": self.scores.baseline_arch, **({"lstm": self.lstm} if self.lstm else {})}

    # ----------------------------------------------------------------- sections

    def header(self) -> str:
        steps = self.run.steps()
        unfinished = sum(1 for s in steps if s["outcome"] is None)
        elapsed = float(self.run.meta(MetaKey.ELAPSED_SECONDS, 0.0))
        state = (
            f"{unfinished} step{'s' if unfinished != 1 else ''} unfinished (the run is going on, or was stopped "
            "in the middle: rerunning its command resumes it)"
            if unfinished
            else "every step finished"
        )
        command = html.escape(self.settings.command or "")
        return (
            f"<h1>Search run <code>{html.escape(self.name)}</code></h1>"
            f"<p>Made by <code>{command}</code>. Preset <code>{html.escape(self.preset.name)}</code>, seed "
            f"{self.settings.seed}, tasks {', '.join(self.tasks)}. {self.run.evaluation_count()} evaluations, "
            f"{elapsed / 60:.1f} minutes searched, {state}. Read "
            f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.</p>"
        )

    def leaderboard(self) -> str:
        if not self.ranked:
            return "<h2>Leaderboard</h2><p>No population yet: the seed cells are still being evaluated.</p>"
        heads = ["rank", "cell", "score", "confirmed"]
        for task in self.tasks:
            heads += [
                f"{task} valid",
                f"{task} / GRU",
                f"{task} / LSTM",
                f"{task} confirmed test [95% CI]",
                f"{task} configs (valid spread)",
            ]
        rows = []
        for row in self.board:
            confirmed_score = (
                _fmt(row.confirmed) if row.confirmed_interval is None else html.escape(row.confirmed_interval.text(3))
            )
            cells = [
                f"baseline ({self.named[row.arch]})" if row.arch in self.named else str(row.rank),
                f"<code>{self.run.label(row.arch)}</code>",
                _fmt(row.score),
                f'<span data-v="{row.confirmed if row.confirmed is not None else -1}">{confirmed_score}</span>',
            ]
            for task in self.tasks:
                measured = row.tasks[task]
                block = measured.confirm
                confirmed = (
                    "—"
                    if block is None
                    else (
                        f"{block['mean']:.3f} [{block['ci95'][0]:.3f}, {block['ci95'][1]:.3f}]; "
                        f"{html.escape(verdict(block))}"
                    )
                )
                cells += [
                    _fmt(measured.valid, 4),
                    _fmt(measured.ratio_to_gru),
                    _fmt(measured.ratio_to_lstm),
                    f'<span data-v="{block["mean"] if block else -1}">{confirmed}</span>',
                    f'<span data-v="{measured.configs}">{measured.configs}'
                    + (
                        ""
                        if measured.config_spread is None
                        else f" ({measured.config_spread[0]:.3f}-{measured.config_spread[1]:.3f})"
                    )
                    + "</span>",
                ]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return (
            "<h2>Leaderboard</h2><p class=note>Score: the minimum over tasks of the cell's best configuration's "
            "mean validation score over the GRU's (its paired configuration) on the seeds both were trained with. "
            "The seed cells are baselines, after the ranked children. Confirmed: the same minimum over the ratios "
            "to the GRU of the mean test scores on fresh "
            "seeds, with a simultaneous 95% interval over those seeds; each task's verdict is the paired t-test "
            "against the GRU, "
            "Holm-adjusted over every cell and task confirmed. A seed interval holds the configuration fixed; "
            "the configs column gives the spread of the cell's validation score over the configurations it was "
            "trained with, its sensitivity to the configuration. A cell that was not confirmed is a candidate. "
            "Click a column to sort.</p>"
            '<table class="sortable"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in heads)
            + "</tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )

    def top_cells(self) -> str:
        parts = ["<h2>Top cells: what changed, and where they come from</h2>"]
        if not diagram.graphviz_available():
            parts.append(f"<p class=note>{html.escape(diagram.GRAPHVIZ_MISSING)}: no diagrams.</p>")
        for rank, arch in enumerate(self.top, start=1):
            graph = self.run.architecture(arch)
            info = self.run.lineage(arch)
            nodes: set[str] = set()
            edges: set[tuple[str, str]] = set()
            if info["parent"]:
                nodes, edges = graph_diff(self.run.architecture(info["parent"]), graph)
            picture = ""
            if diagram.graphviz_available():
                picture = _img(
                    diagram.render_png(graph, f"#{rank} {self.run.label(arch)}", nodes, edges), f"diagram of {arch}"
                )
            chain = []
            for step in self.run.ancestry(arch):
                done = "; ".join(f"{m['kind']} at {m['node']}: {m['detail']}" for m in step["mutations"])
                chain.append(
                    f"<li><code>{self.run.label(step['arch'])}</code> ({html.escape(step['origin'])})"
                    + (f": {html.escape(done)}" if done else "")
                    + "</li>"
                )
            changed = (
                f"in red: {len(nodes)} node(s) and {len(edges)} edge(s) that differ from its parent"
                if info["parent"]
                else "a zoo cell"
            )
            parts.append(
                f'<div class="cell"><h3>#{rank} <code>{arch[:8]}</code></h3>{picture}'
                f"<p class=note>{changed}</p><p>Lineage, newest first:</p><ol>{''.join(chain)}</ol></div>"
            )
        return "".join(parts)

    def over_time(self) -> str:
        steps = [s for s in self.run.steps() if s["finished"] is not None]
        times = self.run.evaluation_times()
        if not steps or not times:
            return "<h2>The search over time</h2><p>Nothing finished yet.</p>"
        start = min(min(s["started"] for s in steps), times[0])
        points, best = [], None
        for step in sorted(steps, key=lambda s: s["finished"]):
            if step["outcome"] in SCORED_OUTCOMES and step["score"] is not None:
                best = step["score"] if best is None else max(best, step["score"])
            if best is not None:
                evaluations = bisect.bisect_right(times, step["finished"])  # times are sorted
                points.append((evaluations, (step["finished"] - start) / 60, best))
        figure, axes = _figure(columns=2)
        for ax, index, label in ((axes[0][0], 0, "evaluations"), (axes[0][1], 1, "wall time (minutes)")):
            ax.step([p[index] for p in points], [p[2] for p in points], where="post")
            ax.set_xlabel(label)
            ax.set_ylabel("best score recorded")
            ax.grid(alpha=0.3)
        counts = self.run.step_counts()
        funnel = {str(outcome): counts.get(("mutate", str(outcome)), 0) for outcome in MUTATE_OUTCOMES}
        funnel["unfinished"] = counts.get(("mutate", None), 0)
        reevaluations = counts.get(("reevaluate", Outcome.REEVALUATED), 0)
        children = sum(funnel.values())
        bars, axes2 = _figure(height=2.6)
        labels = ["children", *funnel, "re-evaluations"]
        values = [children, *funnel.values(), reevaluations]
        colors = ["#999999", *["#4c72b0"] * len(funnel), "#dd8452"]  # children, what became of them, re-evaluations
        axes2[0][0].barh(labels[::-1], values[::-1], color=colors[::-1])
        for y, value in enumerate(values[::-1]):
            axes2[0][0].text(value, y, f" {value}", va="center")
        axes2[0][0].set_xlabel("steps")
        table = "".join(f"<tr><td>{label}</td><td>{value}</td></tr>" for label, value in zip(labels, values))
        return (
            "<h2>The search over time</h2><p class=note>The best score any step recorded when it finished "
            "(a member's score can fall later, when a re-evaluation adds seeds).</p>"
            + _plot(figure, "best score over evaluations and wall time")
            + "<h3>Funnel</h3>"
            + _plot(bars, "funnel of children")
            + f"<table><thead><tr><th>steps</th><th>count</th></tr></thead><tbody>{table}</tbody></table>"
        )

    def throughput(self) -> str:
        times = self.run.evaluation_times()
        elapsed = float(self.run.meta(MetaKey.ELAPSED_SECONDS, 0.0))
        workers = self.run.meta(MetaKey.WORKERS)
        if not times or elapsed <= 0:
            return "<h2>Evaluations per minute</h2><p>None yet.</p>"
        rate = len(times) / (elapsed / 60)
        per_worker = f", {rate / workers:.1f} per worker ({workers} workers)" if workers else ""
        figure, axes = _figure(height=2.6)
        minutes = [(t - times[0]) / 60 for t in times]
        axes[0][0].hist(minutes, bins=max(1, int(minutes[-1]) + 1), color="#4c72b0")
        axes[0][0].set_xlabel("minutes since the first evaluation")
        axes[0][0].set_ylabel("evaluations finished")
        return (
            f"<h2>Evaluations per minute</h2><p>{len(times)} evaluations (successive-halving rungs, replicates and "
            f"confirmation runs included) in {elapsed / 60:.1f} minutes of search: {rate:.1f} per minute"
            f"{per_worker}.</p>" + _plot(figure, "evaluations per minute")
        )

    def learning_curves(self) -> str:
        if not self.top:
            return ""
        figure, axes = _figure(
            width=3.4 * len(self.tasks), height=2.6 * len(self.top), columns=len(self.tasks), rows=len(self.top)
        )
        for row, arch in enumerate(self.top):
            for column, task in enumerate(self.tasks):
                ax = axes[row][column]
                for label, who, style in (
                    (self.run.label(arch), arch, "-"),
                    *((name, key, ":") for name, key in self.baselines.items() if key != arch),
                ):
                    best = self.scores.best_result(who, task)
                    if best is not None and best.curve:
                        ax.plot(
                            [p["epoch"] for p in best.curve],
                            [p["val_score"] for p in best.curve],
                            style,
                            marker=".",
                            label=label,
                        )
                ax.set_title(f"#{row + 1} on {task}", fontsize=9)
                ax.set_xlabel("epoch", fontsize=8)
                ax.set_ylabel("validation score", fontsize=8)
                if ax.lines:
                    ax.legend(fontsize=7)
                else:  # results without learning curves (written before curves were recorded)
                    ax.text(0.5, 0.5, "no learning curve recorded", ha="center", va="center", transform=ax.transAxes)
        return (
            "<h2>Learning curves</h2><p class=note>Validation score per epoch of each top cell's best "
            "configuration (the run's seed), beside the GRU's and the LSTM's best.</p>"
            + _plot(figure, "learning curves")
        )

    def spread(self) -> str:
        who = dict.fromkeys([*self.top, *self.baselines.values()])
        if not who or not self.has_baseline:
            return ""
        figure, axes = _figure(width=3.6 * len(self.tasks), height=3.0, columns=len(self.tasks))
        jitter = random.Random(0)  # only where the dots fall sideways
        for column, task in enumerate(self.tasks):
            ax = axes[0][column]
            names = []
            for x, arch in enumerate(who):
                scores = [
                    sum(s or 0.0 for s in seeds.values()) / len(seeds)
                    for seeds in self.scores.config_scores(arch, task).values()
                ]
                ax.scatter([x + jitter.uniform(-0.15, 0.15) for _ in scores], scores, s=14, alpha=0.7)
                if scores:
                    ax.scatter([x], [max(scores)], marker="_", s=300, color="black")
                names.append(self.run.label(arch))
            ax.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
            ax.set_title(task, fontsize=9)
            ax.set_ylabel("validation score", fontsize=8)
        return (
            "<h2>Spread over configurations</h2><p class=note>Per task, each dot one configuration fully trained "
            "(its mean over seeds), the bar the best: a ratio between two cells means little where their dots "
            "overlap this much.</p>" + _plot(figure, "spread of scores over configurations")
        )


class _AblationPage(_Page):
    """What the report reads from an ablation run (`python -m evo_rnn.ablation`): its comparison
    table (`evo_rnn.scoring.tables`) and the spread of every cell's configurations."""

    def __init__(self, run: Run, ablation: tables.AblationSettings):
        self.run, self.name, self.settings, self.preset, self.ablation = (
            run,
            run.name,
            run.settings,
            run.preset,
            ablation,
        )
        self.scores = Scores.of(run)
        self.tasks = list(ablation.tasks)
        found = (tables.find_cell(run, cell) for cell in ablation.cells)
        self.top, self.baselines, self.has_baseline = [arch for arch in found if arch is not None], {}, True

    def header(self) -> str:
        a = self.ablation
        return (
            f"<h1>Ablation run <code>{html.escape(self.name)}</code></h1>"
            f"<p>Made by <code>{html.escape(self.settings.command or '')}</code>. Preset "
            f"<code>{html.escape(self.preset.name)}</code>, seed {self.settings.seed}: cells "
            f"{', '.join(a.cells)} on {', '.join(a.tasks)}, {a.trials} configurations per task (the same for every "
            f"cell) on {a.replicates} seed{'s' if a.replicates != 1 else ''} each, each cell's best configuration "
            f"confirmed on {a.confirm_seeds} fresh seeds. {self.run.evaluation_count()} evaluations. Read "
            f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.</p>"
        )

    def table(self) -> str:
        table = tables.rows(self.scores, self.ablation.cells, self.ablation.tasks)
        heads = [
            "cell",
            "task",
            "confirmed test [95% CI]",
            "ratio to GRU [95% CI]",
            "p vs GRU",
            "Holm-adjusted p",
            "tuning valid",
            "seeds",
            "paper (Table 1)",
            "paper tier",
        ]
        rows = []
        for row in table:
            tier = tables.PAPER_TIERS.get(row.task, {}).get(row.cell)
            cells = [
                f"<code>{html.escape(row.cell)}</code>",
                html.escape(row.task),
                f'<span data-v="{row.confirmed.mean if row.confirmed else -1}">'
                f"{row.confirmed.text(4) if row.confirmed else '—'}</span>",
                f'<span data-v="{row.ratio_to_gru.mean if row.ratio_to_gru else -1}">'
                f"{row.ratio_to_gru.text(3) if row.ratio_to_gru else '—'}</span>",
                "—" if row.p_value_vs_gru is None else f"{row.p_value_vs_gru:.2g}",
                "—" if row.p_value_holm is None else f"{row.p_value_holm:.2g}",
                _fmt(row.tuning_valid, 4),
                str(row.tuning_seeds),
                _fmt(row.paper, 4),
                "—" if tier is None else str(tier),
            ]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        verdicts = tables.verdicts(table, self.ablation.tasks)
        return (
            "<h2>The comparison</h2><p class=note>Confirmed test: each cell's best configuration (by its mean "
            "validation score over its tuning seeds) trained again on fresh seeds, the same for every cell, with "
            "a 95% t interval; the ratio to the GRU is paired by seed, p is the paired t-test's. The paper's tier: "
            "0 is its bottom tier. Click a column to sort.</p>"
            '<table class="sortable"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in heads)
            + "</tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
            + (
                "<h3>The paper's tiers</h3><ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in verdicts) + "</ul>"
                if verdicts
                else ""
            )
        )


def render_report(run: Run, top: int = 3) -> str:
    """The HTML page about `run`: a search with its `top` cells in
    detail, or an ablation with its comparison table."""
    ablation = tables.AblationSettings.load(run)
    if ablation is not None:
        page: _Page = _AblationPage(run, ablation)
        body = "".join([page.header(), page.table(), page.spread()])
    else:
        page = _Page(run, top)
        body = "".join(
            [
                page.header(),
                page.leaderboard(),
                page.top_cells(),
                page.over_time(),
                page.throughput(),
                page.learning_curves(),
                page.spread(),
            ]
        )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>evo_rnn run '
        f"{html.escape(run.name)}</title><style>{_STYLE}</style></head><body>{body}<script>{_SORT}</script>"
        "</body></html>\n"
    )


def write_report(files: RunFiles, path: str | Path | None = None, top: int = 3) -> Path:
    """Writes the report of run `files` to `path` (default: the run's folder/report.html); returns the path.

    Raises:
        OutputPathError: `path` does not end in .html, or holds a file that is not HTML (a run's
            database, a picture): nothing is written.
    """
    target = check_output(Path(path) if path is not None else files.root / "report.html", "HTML")
    with Run.open(files, readonly=True) as run:  # a reader: it works while a search writes
        text = render_report(run, top)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return target


def comparison_figure(outcomes: list[strategy_comparison.RunOutcome]):
    """The best child score so far against evaluations: per strategy the mean over its runs
    (over the runs that have scored a child by then) and the band from the lowest to the highest run."""
    import numpy as np

    figure, axes = _figure(height=3.6)
    ax = axes[0][0]
    budget = max((o.search_evaluations for o in outcomes), default=0)
    grid = list(range(1, budget + 1))
    for index, strategy in enumerate(sorted({o.strategy for o in outcomes})):
        runs = [o for o in outcomes if o.strategy == strategy]
        curves = np.array([strategy_comparison.best_so_far(o, grid) for o in runs])
        if not grid or np.isnan(curves).all():
            continue
        present = ~np.isnan(curves).all(axis=0)
        x = np.array(grid)[present]
        kept = curves[:, present]
        with np.errstate(all="ignore"):
            mean, low, high = np.nanmean(kept, axis=0), np.nanmin(kept, axis=0), np.nanmax(kept, axis=0)
        color = f"C{index}"
        ax.step(x, mean, where="post", color=color, label=f"{strategy} (mean of {len(runs)} runs)")
        ax.fill_between(x, low, high, step="post", color=color, alpha=0.2)
    ax.axhline(1.0, color="#888", linestyle=":", linewidth=1)
    ax.set_xlabel("evaluations stored")
    ax.set_ylabel("best child score so far (ratio to the GRU)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return figure


def render_comparison(outcomes: list[strategy_comparison.RunOutcome]) -> str:
    """The HTML page comparing search strategies over the runs `outcomes`."""
    result = strategy_comparison.compare(outcomes)
    rows = "".join(
        f"<tr><td>{html.escape(o.name)}</td><td>{html.escape(o.strategy)}</td><td>{o.seed}</td>"
        f"<td>{o.search_evaluations}</td><td>{o.children}</td><td>{len(o.curve)}</td>"
        f"<td>{_fmt(max((s for _, s in o.curve), default=None))}</td><td>{_fmt(o.best_confirmed)}</td>"
        f"<td><code>{html.escape((o.best_confirmed_arch or '—')[:8])}</code></td></tr>"
        for o in outcomes
    )
    summary = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{t['runs']}</td><td>{t['confirmed_runs']}</td>"
        f"<td>{html.escape(t['estimate'].text(3)) if t['estimate'] else '—'}</td></tr>"
        for name, t in result["strategies"].items()
    )
    test = result["mann_whitney"]
    words = (
        "no test: it needs two strategies with a confirmed run each"
        if test is None
        else f"Mann-Whitney U test ({' vs '.join(test['strategies'])}), two-sided: U = {test['u']:g}, "
        f"p = {test['p_value']:.3g}"
    )
    paired = result["paired"]
    if paired is not None:
        p_value = "" if paired["p_value"] is None else f", paired t-test p = {paired['p_value']:.3g}"
        words += (
            f". Paired by seed ({len(paired['seeds'])} pairs: {', '.join(map(str, paired['seeds']))}): "
            f"{' minus '.join(paired['strategies'])} = {paired['estimate'].text(3)}{p_value}"
        )
        if paired["left_out"]:
            words += "; not paired: " + ", ".join(f"seed {seed} ({why})" for seed, why in paired["left_out"].items())
    figure = comparison_figure(outcomes)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>evo_rnn strategies</title>'
        f"<style>{_STYLE}</style></head><body><h1>Search strategies compared</h1>"
        "<p class=note>Per run: the best confirmed score of a cell other than the GRU (the minimum over tasks "
        "of its ratio to the GRU on the confirmation's fresh seeds), and the best search score a child "
        "reached. Per strategy: the mean over its confirmed runs with a 95% t interval.</p>"
        '<table class="sortable"><thead><tr><th>run</th><th>strategy</th><th>seed</th><th>evaluations</th>'
        "<th>children</th><th>children scored</th><th>best child score</th><th>best confirmed</th><th>cell</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
        "<table><thead><tr><th>strategy</th><th>runs</th><th>confirmed</th><th>best confirmed: mean [95% CI]</th>"
        f"</tr></thead><tbody>{summary}</tbody></table><p>{html.escape(words)}</p>"
        "<h2>Best child score so far</h2><p class=note>Mean over runs (of those that have scored a child by "
        "then) and the band from the lowest to the highest run.</p>"
        + _plot(figure, "best child score so far against evaluations, per strategy")
        + f"<script>{_SORT}</script></body></html>\n"
    )


def write_comparison(names: list[str], runs_dir: str | Path, path: str | Path | None = None) -> Path:
    """Writes the strategy comparison of runs `names` to `path` (default RUNS_DIR/compare.html)
    and its plot beside it (same name, .png); returns the HTML's path.

    Raises:
        EvoRnnError: a run does not exist.
        OutputPathError: `path` does not end in .html, or it or its .png holds another kind of
            file: nothing is written.
    """
    target = check_output(Path(path) if path is not None else Path(runs_dir) / "compare.html", "HTML")
    check_output(target.with_suffix(".png"), "PNG")  # the plot beside it
    outcomes = [strategy_comparison.load_outcome(RunFiles(name, runs_dir)) for name in names]
    target.parent.mkdir(parents=True, exist_ok=True)
    text = render_comparison(outcomes)
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    with atomic_path(target.with_suffix(".png")) as temporary:
        comparison_figure(outcomes).savefig(temporary, format="png", dpi=96)
    return target
