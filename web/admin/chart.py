"""The missed-calls chart as numbers for a server-drawn SVG (templates/admin/missed_chart.html):
per day two bars, missed and recalled, on the left scale, and the average time to recall
as a line on its own scale (minutes). No script: the template only places what is here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from web.api.missed_calls import DayStats

WIDTH = 720
HEIGHT = 240
LEFT = 36
RIGHT = 44
TOP = 12
BOTTOM = 28
PLOT_H = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int


@dataclass(frozen=True, slots=True)
class Day:
    label: str
    """MM-DD, shown under some days only (`labelled`)."""
    labelled: bool
    x_middle: float
    missed: Bar
    recalled: Bar
    recall_minutes: float | None
    recall_y: float | None


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    top: int
    base: float
    """The y of the zero line."""
    left: int
    right: float
    most: int
    """The left scale's top: calls."""
    slowest: float
    """The right scale's top: minutes to recall."""
    days: Sequence[Day]
    line: str
    """The SVG polyline points of the time to recall (days without a recall skipped)."""


def _nice(value: float) -> float:
    """A round scale top at or above `value` (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def chart(days: Sequence[DayStats]) -> Chart:
    count = max(len(days), 1)
    slot = (WIDTH - LEFT - RIGHT) / count
    bar_w = max(slot * 0.38, 1.0)
    most = int(_nice(max((d.missed for d in days), default=0)))
    minutes = [d.average_recall_seconds / 60 for d in days if d.average_recall_seconds is not None]
    slowest = _nice(max(minutes, default=0))
    base = TOP + PLOT_H
    every = max(count // 10, 1)

    def bar(x: float, value: int) -> Bar:
        h = PLOT_H * value / most
        return Bar(round(x, 1), round(base - h, 1), round(bar_w, 1), round(h, 1), value)

    placed: list[Day] = []
    for i, d in enumerate(days):
        x0 = LEFT + i * slot + (slot - 2 * bar_w) / 2
        recall = None if d.average_recall_seconds is None else d.average_recall_seconds / 60
        placed.append(
            Day(
                label=d.day.strftime("%m-%d"),
                labelled=(count - 1 - i) % every == 0,
                x_middle=round(LEFT + (i + 0.5) * slot, 1),
                missed=bar(x0, d.missed),
                recalled=bar(x0 + bar_w, d.recalled),
                recall_minutes=None if recall is None else round(recall, 1),
                recall_y=None if recall is None else round(base - PLOT_H * recall / slowest, 1),
            )
        )
    line = " ".join(f"{d.x_middle},{d.recall_y}" for d in placed if d.recall_y is not None)
    return Chart(WIDTH, HEIGHT, TOP, base, LEFT, WIDTH - RIGHT, most, slowest, placed, line)
