"""Geometry of the score-history chart, computed from daily snapshots.

The chart is drawn server-side as inline SVG, so these functions only turn days and
scores into SVG user-space coordinates, path data, ticks and the rows of the text
alternative. They do no database work, which keeps them unit-testable.

Coordinates: x grows with the day from the plot's left edge (the first day of the
window) to its right edge (the last day). y is 0 at the top of the SVG, so a score
of 100 sits on the plot's top edge and 0 on its bottom edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.utils import dateformat

from health.models import Band

MAX_SCORE = 100
Y_TICK_STEP = 20
# A regular y tick this close to a band threshold is left out, so labels don't overlap.
Y_TICK_MIN_GAP = 6
# Windows of up to this many days get weekly x ticks, and longer ones get month starts.
WEEKLY_TICKS_UP_TO_DAYS = 62
# With more x ticks than this, every other tick is minor and hidden at phone width.
MAX_MAJOR_X_TICKS = 6
# An x tick label this close (in user units) to a plot edge is anchored at its end or
# start instead of its middle, so it is not clipped.
EDGE_LABEL_MARGIN = 30


@dataclass(frozen=True)
class ChartBox:
    """Size of the SVG in user units, and the margins around the plot area."""

    width: int = 960
    height: int = 400
    left: int = 64
    right: int = 24
    top: int = 16
    bottom: int = 44

    @property
    def plot_left(self) -> int:
        return self.left

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_top(self) -> int:
        return self.top

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom

    @property
    def plot_width(self) -> int:
        return self.plot_right - self.plot_left

    @property
    def plot_height(self) -> int:
        return self.plot_bottom - self.plot_top


@dataclass(frozen=True)
class DayScore:
    """One day's score, with the band stored on its snapshot."""

    day: date
    score: float
    band: str = ""


@dataclass(frozen=True)
class Point:
    """A scored day placed on the chart."""

    x: float
    y: float
    day: date
    score: float


@dataclass(frozen=True)
class Threshold:
    """A dashed line where a band starts."""

    band: str
    score: int
    y: float

    @property
    def label(self) -> str:
        return str(Band(self.band).label)


@dataclass(frozen=True)
class BandArea:
    """The background strip of one band, from its lower limit up to the next band."""

    band: str
    y: float
    height: float


@dataclass(frozen=True)
class YTick:
    score: int
    y: float
    minor: bool


@dataclass(frozen=True)
class XTick:
    day: date
    x: float
    label: str
    anchor: str
    minor: bool


@dataclass(frozen=True)
class TableRow:
    """A row of the data table: one scored day, or a run of days without a score."""

    first_day: date
    last_day: date
    score: float | None = None
    band: str = ""

    @property
    def is_gap(self) -> bool:
        return self.score is None

    @property
    def day_count(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def band_label(self) -> str:
        """Return the band's display name, or "" for a gap or an unknown band."""
        return str(Band(self.band).label) if self.band in Band.values else ""


@dataclass(frozen=True)
class ScoreHistoryChart:
    """Everything the score-history template draws and summarizes."""

    box: ChartBox
    start: date
    end: date
    segments: list[str] = field(default_factory=list)
    dots: list[Point] = field(default_factory=list)
    last_point: Point | None = None
    thresholds: list[Threshold] = field(default_factory=list)
    band_areas: list[BandArea] = field(default_factory=list)
    y_ticks: list[YTick] = field(default_factory=list)
    x_ticks: list[XTick] = field(default_factory=list)
    table_rows: list[TableRow] = field(default_factory=list)
    first: DayScore | None = None
    last: DayScore | None = None
    minimum: DayScore | None = None
    maximum: DayScore | None = None
    scored_days: int = 0

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def missing_days(self) -> int:
        return self.days - self.scored_days


def x_for_day(day: date, start: date, end: date, box: ChartBox) -> float:
    """Return the x of a day. A one-day window puts its day in the middle."""
    span = (end - start).days
    if span <= 0:
        return round(box.plot_left + box.plot_width / 2, 1)
    return round(box.plot_left + box.plot_width * (day - start).days / span, 1)


def y_for_score(score: float, box: ChartBox) -> float:
    """Return the y of a score, clamped to 0-100 so a bad value stays inside the plot."""
    clamped = min(max(score, 0), MAX_SCORE)
    return round(box.plot_bottom - box.plot_height * clamped / MAX_SCORE, 1)


def to_day_scores(
    rows: Iterable[tuple[date, Decimal | float | None, str]], start: date, end: date
) -> list[DayScore]:
    """Convert (day, score, band) snapshot rows to scored days inside the window.

    A snapshot without a score (no input covered any weight that day) counts as a
    missing day, like a day without a snapshot. The result is sorted by day.
    """
    scored = {
        day: DayScore(day, float(score), band)
        for day, score, band in rows
        if score is not None and start <= day <= end
    }
    return [scored[day] for day in sorted(scored)]


def split_runs(scores: list[DayScore]) -> list[list[DayScore]]:
    """Split sorted scored days into runs of consecutive days. A missing day ends a run."""
    runs: list[list[DayScore]] = []
    for entry in scores:
        if runs and entry.day - runs[-1][-1].day == timedelta(days=1):
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return runs


def path_data(points: list[Point]) -> str:
    """Return SVG path data that moves to the first point and draws lines to the rest."""
    commands = [f"M{points[0].x:.1f},{points[0].y:.1f}"]
    commands.extend(f"L{point.x:.1f},{point.y:.1f}" for point in points[1:])
    return " ".join(commands)


def build_thresholds(green_from: int, yellow_from: int, box: ChartBox) -> list[Threshold]:
    return [
        Threshold(Band.GREEN, green_from, y_for_score(green_from, box)),
        Threshold(Band.YELLOW, yellow_from, y_for_score(yellow_from, box)),
    ]


def build_band_areas(green_from: int, yellow_from: int, box: ChartBox) -> list[BandArea]:
    limits = [
        (Band.GREEN, green_from, MAX_SCORE),
        (Band.YELLOW, yellow_from, green_from),
        (Band.RED, 0, yellow_from),
    ]
    areas = []
    for band, low, high in limits:
        top = y_for_score(high, box)
        areas.append(BandArea(band, top, round(y_for_score(low, box) - top, 1)))
    return areas


def build_y_ticks(thresholds: list[Threshold], box: ChartBox) -> list[YTick]:
    """Return gridline ticks every 20 points, leaving out those next to a threshold.

    The thresholds are labelled on the axis themselves, in their band's colour. Ticks
    other than 0 and 100 are minor, so their labels hide at phone width.
    """
    limits = [threshold.score for threshold in thresholds]
    return [
        YTick(score, y_for_score(score, box), minor=score not in (0, MAX_SCORE))
        for score in range(0, MAX_SCORE + 1, Y_TICK_STEP)
        if all(abs(score - limit) >= Y_TICK_MIN_GAP for limit in limits)
    ]


def build_x_ticks(start: date, end: date, box: ChartBox) -> list[XTick]:
    """Return weekly ticks (Mondays) for short windows and month starts for long ones."""
    if (end - start).days + 1 <= WEEKLY_TICKS_UP_TO_DAYS:
        first = start + timedelta(days=(7 - start.weekday()) % 7)
        days = [first + timedelta(weeks=n) for n in range((end - first).days // 7 + 1)]
        label_format = "j M"
    else:
        days = []
        month = date(start.year, start.month, 1)
        while month <= end:
            if month >= start:
                days.append(month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        label_format = "M"

    thin_out = len(days) > MAX_MAJOR_X_TICKS
    ticks = []
    for index, day in enumerate(days):
        x = x_for_day(day, start, end, box)
        if x - box.plot_left < EDGE_LABEL_MARGIN:
            anchor = "start"
        elif box.plot_right - x < EDGE_LABEL_MARGIN:
            anchor = "end"
        else:
            anchor = "middle"
        label = dateformat.format(day, label_format)
        ticks.append(XTick(day, x, label, anchor, minor=thin_out and index % 2 == 1))
    return ticks


def build_table_rows(scores: list[DayScore], start: date, end: date) -> list[TableRow]:
    """Return one row per scored day, and one row per run of days without a score."""
    rows: list[TableRow] = []
    next_day = start
    for entry in scores:
        if entry.day > next_day:
            rows.append(TableRow(next_day, entry.day - timedelta(days=1)))
        rows.append(TableRow(entry.day, entry.day, entry.score, entry.band))
        next_day = entry.day + timedelta(days=1)
    if next_day <= end:
        rows.append(TableRow(next_day, end))
    return rows


def build_score_history(
    rows: Iterable[tuple[date, Decimal | float | None, str]],
    *,
    start: date,
    end: date,
    green_from: int,
    yellow_from: int,
    box: ChartBox | None = None,
) -> ScoreHistoryChart:
    """Build the chart of the scores from `start` to `end`, both days included.

    `rows` are (day, score, band) snapshot rows in any order. Rows outside the window
    are ignored. Days without a scored snapshot break the line, so gaps stay visible.
    """
    box = box or ChartBox()
    scores = to_day_scores(rows, start, end)
    thresholds = build_thresholds(green_from, yellow_from, box)

    segments: list[str] = []
    dots: list[Point] = []
    last_point: Point | None = None
    for run in split_runs(scores):
        points = [
            Point(
                x_for_day(entry.day, start, end, box),
                y_for_score(entry.score, box),
                entry.day,
                entry.score,
            )
            for entry in run
        ]
        if len(points) == 1:
            # A path of one point draws nothing, so a lone day is a dot.
            dots.append(points[0])
        else:
            segments.append(path_data(points))
        last_point = points[-1]

    return ScoreHistoryChart(
        box=box,
        start=start,
        end=end,
        segments=segments,
        dots=dots,
        last_point=last_point,
        thresholds=thresholds,
        band_areas=build_band_areas(green_from, yellow_from, box),
        y_ticks=build_y_ticks(thresholds, box),
        x_ticks=build_x_ticks(start, end, box),
        table_rows=build_table_rows(scores, start, end),
        first=scores[0] if scores else None,
        last=scores[-1] if scores else None,
        # min and max return the first of equal scores, so ties report the earliest day.
        minimum=min(scores, key=lambda entry: entry.score) if scores else None,
        maximum=max(scores, key=lambda entry: entry.score) if scores else None,
        scored_days=len(scores),
    )


# Sparklines of the portfolio rows.

SPARKLINE_DAYS = 30
SPARKLINE_WIDTH = 96
SPARKLINE_HEIGHT = 24
# Room for the round line caps and the last day's dot, so neither is clipped.
SPARKLINE_PAD = 3
# Each line is scaled to its own scores, but over at least this many points, so a
# wobble of one or two points does not fill the height like a real swing.
SPARKLINE_MIN_SPAN = 20


@dataclass(frozen=True)
class Sparkline:
    """A small line of one breeder's daily scores, and its text alternative.

    `path` has one subpath per run of consecutive scored days. A lone day is a
    zero-length subpath, which the round line caps draw as a dot.
    """

    path: str
    last_x: float | None
    last_y: float | None
    label: str


def build_sparkline(
    rows: Iterable[tuple[date, Decimal | float | None]], *, start: date, end: date
) -> Sparkline:
    """Build the sparkline of the scores from `start` to `end`, both days included.

    `rows` are (day, score) pairs in any order. Rows outside the window and days
    without a score are left out, and a missing day breaks the line. The portfolio
    builds 50 of these per request, so this works on plain tuples rather than the
    chart's dataclasses.
    """
    scores = sorted(
        (day, float(score)) for day, score in rows if score is not None and start <= day <= end
    )
    if not scores:
        return Sparkline("", None, None, f"No scores in the last {(end - start).days + 1} days")
    low = min(score for _, score in scores)
    high = max(score for _, score in scores)
    if high - low < SPARKLINE_MIN_SPAN:
        middle = (high + low) / 2
        low = max(0, min(middle - SPARKLINE_MIN_SPAN / 2, MAX_SCORE - SPARKLINE_MIN_SPAN))
        high = low + SPARKLINE_MIN_SPAN
    x_per_day = (SPARKLINE_WIDTH - 2 * SPARKLINE_PAD) / max((end - start).days, 1)
    y_per_point = (SPARKLINE_HEIGHT - 2 * SPARKLINE_PAD) / (high - low)

    commands = []
    previous: date | None = None
    run_length = 0
    for day, score in scores:
        x = SPARKLINE_PAD + x_per_day * (day - start).days
        y = SPARKLINE_PAD + y_per_point * (high - score)
        continues = previous is not None and (day - previous).days == 1
        if not continues and run_length == 1:
            commands.append("h0")
        commands.append(f"{'L' if continues else 'M'}{x:.1f},{y:.1f}")
        run_length = run_length + 1 if continues else 1
        previous = day
    if run_length == 1:
        commands.append("h0")

    (first_day, first_score), (last_day, last_score) = scores[0], scores[-1]
    label = f"Score {first_score:g} on {first_day.day} {first_day:%b}"
    if len(scores) > 1:
        label += f", {last_score:g} on {last_day.day} {last_day:%b}"
    return Sparkline(" ".join(commands), round(x, 1), round(y, 1), label)
