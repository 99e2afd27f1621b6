"""
The page's charts as inline SVG, drawn with matplotlib on the server: nothing loads from a CDN.

matplotlib is imported inside each call (plugins load in every Airflow process; only the API
server draws), and only its object API is used: no pyplot, so no global figure state or GUI
backend, and requests can draw in parallel threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

DECISION_COLOURS = {"promoted": "#2e7d32", "skipped_gate": "#ef6c00", "rejected": "#c62828"}
VARIANT_COLOURS = ["#1565c0", "#ad1457", "#2e7d32", "#6a1b9a", "#ef6c00"]


def _figure(width: float = 7.0, height: float = 2.8):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=96, layout="constrained")
    return figure, figure.add_subplot()


def _svg(figure) -> str:
    """The figure's ``<svg>`` element alone, to sit inside the page's HTML."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def metric_history(
    labels: Sequence[str],
    values: Sequence[float | None],
    decisions: Sequence[str],
    metric: str,
    baseline: Sequence[float | None] | None = None,
) -> str:
    """The gate metric of each version in decision order, each point coloured by the gate's decision."""
    figure, axes = _figure()
    xs = range(len(labels))
    axes.plot(xs, [v if v is not None else float("nan") for v in values], color="#9e9e9e", zorder=1)
    for decision, colour in DECISION_COLOURS.items():
        points = [
            (x, v) for x, v, d in zip(xs, values, decisions, strict=True) if d == decision and v is not None
        ]
        if points:
            axes.scatter(*zip(*points, strict=True), color=colour, label=decision, zorder=2)
    if baseline and any(b is not None for b in baseline):
        axes.plot(
            xs,
            [b if b is not None else float("nan") for b in baseline],
            "--x",  # a marker too: a single version's baseline is one point, not a line
            color="#616161",
            label="popularity baseline",
        )
    axes.set_xticks(list(xs), labels, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel(metric)
    axes.legend(fontsize=8, loc="best")
    return _svg(figure)


def rows_per_partition(partitions: Sequence[str], rows: Sequence[int]) -> str:
    """Rows of each exported interactions partition: a sudden drop is a source problem."""
    figure, axes = _figure(height=2.4)
    axes.bar(range(len(partitions)), rows, color="#1565c0")
    axes.set_xticks(range(len(partitions)), partitions, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("rows")
    return _svg(figure)


def conversion_by_day(series: dict[str, list[tuple[str, float, float | None, float | None]]]) -> str:
    """Each variant's conversion rate per day with its interval (``variant -> [(day, rate, lo, hi)]``)."""
    figure, axes = _figure()
    days = sorted({day for points in series.values() for day, *_ in points})
    position = {day: i for i, day in enumerate(days)}
    for n, (variant, points) in enumerate(series.items()):
        offset = (n - (len(series) - 1) / 2) * 0.08  # side by side, so the intervals stay readable
        xs = [position[day] + offset for day, *_ in points]
        rates = [rate for _, rate, _, _ in points]
        below = [rate - lo if lo is not None else 0 for _, rate, lo, _ in points]
        above = [hi - rate if hi is not None else 0 for _, rate, _, hi in points]
        colour = VARIANT_COLOURS[n % len(VARIANT_COLOURS)]
        axes.errorbar(xs, rates, yerr=[below, above], fmt="o-", capsize=3, color=colour, label=variant)
    axes.set_xticks(range(len(days)), days, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("conversion rate")
    axes.legend(fontsize=8, loc="best")
    return _svg(figure)
