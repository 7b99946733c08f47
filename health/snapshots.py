"""Each scored breeder's earlier snapshots, read set-based for trends and explanations.

For every breeder of a score table this finds the newest snapshot before the as-of day
(with each measure's contribution and raw value, to explain the change) and the newest
at least 7 and 30 days old (for the trends).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from django.db import connection

from health.measures import CompiledMeasure
from health.metrics import BoolArray, FloatArray, IntArray
from health.models import HealthSnapshot
from health.vectorised import ScoreTable

TABLE = HealthSnapshot._meta.db_table


@dataclass
class History:
    """Earlier snapshots by position in the score table; NaN where there is no value.

    `previous_*` describe the newest snapshot before the as-of day. A measure missing
    from it has contribution 0 and raw value NaN, as the explanation treats it.
    """

    previous_found: BoolArray
    previous_day: list[date | None]
    previous_score: FloatArray
    previous_band: list[str]
    previous_contribution: dict[str, FloatArray]
    previous_raw: dict[str, FloatArray]
    week_score: FloatArray
    month_score: FloatArray

    @classmethod
    def empty(cls, size: int, measures: Sequence[CompiledMeasure]) -> History:
        return cls(
            previous_found=np.zeros(size, dtype=np.bool_),
            previous_day=[None] * size,
            previous_score=np.full(size, np.nan),
            previous_band=[""] * size,
            previous_contribution={measure.key: np.zeros(size) for measure in measures},
            previous_raw={measure.key: np.full(size, np.nan) for measure in measures},
            week_score=np.full(size, np.nan),
            month_score=np.full(size, np.nan),
        )


def _columns_sql(measures: Sequence[CompiledMeasure], with_measures: bool) -> str:
    """SQL for the columns read from a snapshot `s`: breeder, day, score, band and,
    when asked for, each measure's contribution and raw value."""
    columns = ["s.breeder_id", "s.day", "s.score::float8", "s.band"]
    if with_measures:
        columns += [
            f"(s.measures -> %(key_{i})s ->> '{name}')::float8"
            for name in ("contribution", "raw")
            for i in range(len(measures))
        ]
    return ", ".join(columns)


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class _Reader:
    """Run the snapshot queries of one score table and place the rows by position."""

    def __init__(
        self,
        workspace_id: int,
        table: ScoreTable,
        measures: Sequence[CompiledMeasure],
        subset: bool,
    ) -> None:
        self.table = table
        self.measures = measures
        self.subset = subset
        self.params: dict[str, Any] = {
            "workspace_id": workspace_id,
            **{f"key_{i}": measure.key for i, measure in enumerate(measures)},
        }
        self.history = History.empty(len(table), measures)

    def positions(self, breeder_ids: Sequence[int]) -> tuple[IntArray, BoolArray]:
        """Return each id's position in the table (ids are sorted there) and whether it is there."""
        ids = np.array(breeder_ids, dtype=np.int64)
        positions = np.searchsorted(self.table.breeder_ids, ids)
        clipped = np.minimum(positions, len(self.table) - 1)
        return clipped, self.table.breeder_ids[clipped] == ids

    def on_day(self, day: date, with_measures: bool) -> list[tuple[Any, ...]]:
        """Read the snapshots dated exactly on a day."""
        breeder_filter = "AND s.breeder_id = ANY(%(breeder_ids)s)" if self.subset else ""
        sql = f"""
            SELECT {_columns_sql(self.measures, with_measures)} FROM {TABLE} s
            WHERE s.workspace_id = %(workspace_id)s AND s.day = %(day)s {breeder_filter}
        """  # noqa: S608
        breeder_ids = self.table.breeder_ids.tolist() if self.subset else []
        return _fetch(sql, dict(self.params, day=day, breeder_ids=breeder_ids))

    def newest_before(
        self, breeder_ids: Sequence[int], day: date, with_measures: bool
    ) -> list[tuple[Any, ...]]:
        """Read each given breeder's newest snapshot dated on or before a day.

        One probe of the (breeder_id, day) index per breeder, so the time does not grow
        with the length of the history kept.
        """
        sql = f"""
            SELECT s.* FROM unnest(%(breeder_ids)s::bigint[]) AS h(breeder_id)
            JOIN LATERAL (
                SELECT {_columns_sql(self.measures, with_measures)} FROM {TABLE} s
                WHERE s.workspace_id = %(workspace_id)s AND s.breeder_id = h.breeder_id
                  AND s.day <= %(day)s
                ORDER BY s.day DESC LIMIT 1
            ) s ON true
        """  # noqa: S608
        return _fetch(sql, dict(self.params, breeder_ids=list(breeder_ids), day=day))

    def place_previous(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        history = self.history
        columns = list(zip(*rows, strict=True))
        positions, present = self.positions(columns[0])
        places = positions[present]
        history.previous_found[places] = True
        for position, day, band in zip(
            places.tolist(),
            np.array(columns[1], dtype=object)[present].tolist(),
            np.array(columns[3], dtype=object)[present].tolist(),
            strict=True,
        ):
            history.previous_day[position] = day
            history.previous_band[position] = band
        # numpy reads None as NaN in a float array.
        history.previous_score[places] = np.array(columns[2], dtype=np.float64)[present]
        count = len(self.measures)
        for i, measure in enumerate(self.measures):
            contributions = np.array(columns[4 + i], dtype=np.float64)[present]
            history.previous_contribution[measure.key][places] = np.nan_to_num(contributions)
            history.previous_raw[measure.key][places] = np.array(
                columns[4 + count + i], dtype=np.float64
            )[present]

    def place_scores(self, rows: Sequence[tuple[Any, ...]], scores: FloatArray) -> BoolArray:
        """Store the rows' scores by position; return where a snapshot was found."""
        found = np.zeros(len(self.table), dtype=np.bool_)
        if not rows:
            return found
        columns = list(zip(*rows, strict=True))
        positions, present = self.positions(columns[0])
        scores[positions[present]] = np.array(columns[2], dtype=np.float64)[present]
        found[positions[present]] = True
        return found


def load_history(
    workspace_id: int,
    table: ScoreTable,
    measures: Sequence[CompiledMeasure],
    *,
    subset: bool,
) -> History:
    """Read every breeder's previous, week-old and month-old snapshots.

    The daily job writes one snapshot per breeder and day, so nearly every breeder has
    one dated exactly the day before, 7 days before and 30 days before; those come from
    one scan of the (workspace, day) index. Only breeders without one get an index probe
    for the newest earlier snapshot. `subset` says the table holds some of the
    workspace's breeders, not all of them.
    """
    reader = _Reader(workspace_id, table, measures, subset)
    oldest = _fetch(
        f"SELECT min(day) FROM {TABLE} WHERE workspace_id = %(workspace_id)s",  # noqa: S608
        reader.params,
    )[0][0]
    lookups = {
        "previous": table.as_of - timedelta(days=1),
        "week": table.as_of - timedelta(days=7),
        "month": table.as_of - timedelta(days=30),
    }
    lookups = {name: day for name, day in lookups.items() if oldest is not None and oldest <= day}
    if not lookups or not len(table):
        return reader.history

    history = reader.history
    targets = {"week": history.week_score, "month": history.month_score}
    for name, day in lookups.items():
        with_measures = name == "previous"
        rows = reader.on_day(day, with_measures)
        if with_measures:
            reader.place_previous(rows)
            found = history.previous_found.copy()
        else:
            found = reader.place_scores(rows, targets[name])
        missing = table.breeder_ids[~found].tolist()
        if not missing:
            continue
        earlier = reader.newest_before(missing, day, with_measures)
        if with_measures:
            reader.place_previous(earlier)
        else:
            reader.place_scores(earlier, targets[name])
    return history
