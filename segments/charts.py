"""Geometry of the KPI page's band chart: one stacked column per sample day.

Each column is 100% high and split by the share of each band that day, so weeks with
more scored breeders compare by share, not by count. The table under the chart gives
the counts. Coordinates are SVG user units with y growing downwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import dateformat

from segments.kpis import BandSample

WIDTH = 720
HEIGHT = 260
LEFT = 64
RIGHT = 8
TOP = 8
BOTTOM = 36
# Share of each column slot that the bar fills; the rest is the gap between bars.
BAR_FILL = 0.7


@dataclass(frozen=True)
class Segment:
    band: str
    y: float
    height: float


@dataclass(frozen=True)
class Column:
    x: float
    width: float
    label_x: float
    label: str
    segments: list[Segment]
    # Every other label, counted back from the newest, hides at phone width.
    minor: bool


@dataclass(frozen=True)
class BandChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    columns: list[Column]

    def y_for_percent(self, percent: float) -> float:
        return round(self.plot_bottom - (self.plot_bottom - self.plot_top) * percent / 100, 1)

    @property
    def gridlines(self) -> list[tuple[int, float]]:
        return [(percent, self.y_for_percent(percent)) for percent in (0, 50, 100)]


def build_band_chart(samples: list[BandSample]) -> BandChart:
    """Build one stacked column per sample, bands from green at the top to unscored."""
    chart = BandChart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM, [])
    if not samples:
        return chart
    slot = (chart.plot_right - chart.plot_left) / len(samples)
    bar_width = round(slot * BAR_FILL, 1)
    for index, sample in enumerate(samples):
        x = round(chart.plot_left + slot * index + (slot - bar_width) / 2, 1)
        segments = []
        top = 0.0
        for band, _label, _count, percent in sample.bands():
            if not percent:
                continue
            y = chart.y_for_percent(100 - top)
            height = round(chart.y_for_percent(100 - top - percent) - y, 1)
            segments.append(Segment(band, y, height))
            top += percent
        chart.columns.append(
            Column(
                x=x,
                width=bar_width,
                label_x=round(x + bar_width / 2, 1),
                label=dateformat.format(sample.day, "j M"),
                segments=segments,
                minor=(len(samples) - 1 - index) % 2 == 1,
            )
        )
    return chart
