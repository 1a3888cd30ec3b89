"""The report's charts, drawn by matplotlib: SVG for the console (its text kept as text),
PNG for the PDF. Chinese needs a CJK font, registered once."""

from __future__ import annotations

import io
from functools import cache
from itertools import pairwise
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from service.bulletin.models import MonthlyBulletin
from service.bulletin.words import word

MAX_SERIES = 8  # units drawn on the on-time chart; more would be unreadable
ACK_BINS = (0, 5, 10, 15, 30, 60, 120, 240)  # minutes


@cache
def _font_name(font: Path) -> str:
    font_manager.fontManager.addfont(str(font))
    return font_manager.FontProperties(fname=str(font)).get_name()


def _figure(font: Path) -> Figure:
    figure = Figure(figsize=(7, 3.2), layout="constrained")
    matplotlib.rcParams["font.family"] = [_font_name(font), "DejaVu Sans"]
    matplotlib.rcParams["svg.fonttype"] = "none"
    return figure


def _out(figure: Figure, fmt: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=150, metadata={"Date": None} if fmt == "svg" else {})
    return buffer.getvalue()


def on_time_chart(bulletin: MonthlyBulletin, language: str, font: Path, fmt: str) -> bytes:
    figure = _figure(font)
    axes = figure.subplots()
    for name, rates in list(bulletin.on_time_series.items())[:MAX_SERIES]:
        # Months as positions, so that a unit with no reports in a month leaves a gap in
        # its line and never moves the month along the axis.
        points = [(i, r * 100) for i, r in enumerate(rates) if r is not None]
        if points:
            axes.plot([i for i, _ in points], [r for _, r in points], marker="o", label=name)
    axes.set_xticks(range(len(bulletin.months)), bulletin.months)
    axes.set_ylim(0, 105)
    axes.set_ylabel(word("rate_axis", language) + " %")
    axes.set_title(word("chart_on_time", language))
    if axes.get_lines():
        axes.legend(fontsize=7, loc="lower left")
    return _out(figure, fmt)


def ack_chart(bulletin: MonthlyBulletin, language: str, font: Path, fmt: str) -> bytes:
    figure = _figure(font)
    axes = figure.subplots()
    edges = [*ACK_BINS, max([*bulletin.ack_minutes, ACK_BINS[-1]]) + 1]
    counts = [sum(1 for m in bulletin.ack_minutes if lo <= m < hi) for lo, hi in pairwise(edges)]
    labels = [f"{lo}–{hi}" for lo, hi in pairwise(ACK_BINS)]
    labels.append(f"≥{ACK_BINS[-1]}")
    axes.bar(labels, counts, color="#3b6ea5")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(word("incidents_axis", language))
    axes.set_title(word("chart_ack", language))
    return _out(figure, fmt)


def hour_chart(bulletin: MonthlyBulletin, language: str, font: Path, fmt: str) -> bytes:
    figure = _figure(font)
    axes = figure.subplots()
    axes.bar(range(24), bulletin.learned_by_hour, color="#a5673b")
    axes.set_xticks(range(0, 24, 2))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(word("hour_axis", language))
    axes.set_ylabel(word("incidents_axis", language))
    axes.set_title(word("chart_hours", language))
    return _out(figure, fmt)


CHARTS = {"on_time": on_time_chart, "ack": ack_chart, "hours": hour_chart}
