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

from health.columns import fetch_columns
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
    """SQL for the columns read from a snapshot `s`: breeder, age in days, score, band
    and, when asked for, each measure's contribution and raw value. NaN stands for NULL."""
    columns = [
        "s.breeder_id",
        "%(as_of)s - s.day",
        "coalesce(s.score::float8, 'NaN')",
        "s.band",
    ]
    if with_measures:
        columns += [
            f"coalesce((s.measures -> %(key_{i})s ->> '{name}')::float8, 'NaN')"
            for name in ("contribution", "raw")
            for i in range(len(measures))
        ]
    return ", ".join(columns)


def _dtypes(measures: Sequence[CompiledMeasure], with_measures: bool) -> list[type | None]:
    """numpy types of the `_columns_sql` columns; the band comes as a list of str."""
    dtypes: list[type | None] = [np.int64, np.int64, np.float64, None]
    if with_measures:
        dtypes += [np.float64] * 2 * len(measures)
    return dtypes


class _Reader:
    """Run the snapshot queries of one score table and place the results by position."""

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
            "as_of": table.as_of,
            **{f"key_{i}": measure.key for i, measure in enumerate(measures)},
        }
        self.history = History.empty(len(table), measures)

    def positions(self, breeder_ids: IntArray) -> tuple[IntArray, BoolArray]:
        """Return each id's position in the table (ids are sorted there) and whether it is there."""
        positions = np.searchsorted(self.table.breeder_ids, breeder_ids)
        clipped = np.minimum(positions, len(self.table) - 1)
        return clipped, self.table.breeder_ids[clipped] == breeder_ids

    def on_day(self, day: date, with_measures: bool) -> list[Any]:
        """Read the snapshots dated exactly on a day, as columns."""
        breeder_filter = "AND s.breeder_id = ANY(%(breeder_ids)s::bigint[])" if self.subset else ""
        sql = f"""
            SELECT {_columns_sql(self.measures, with_measures)} FROM {TABLE} s
            WHERE s.workspace_id = %(workspace_id)s AND s.day = %(day)s {breeder_filter}
        """  # noqa: S608
        breeder_ids = self.table.breeder_ids.tolist() if self.subset else []
        params = dict(self.params, day=day, breeder_ids=breeder_ids)
        return fetch_columns(sql, params, _dtypes(self.measures, with_measures))

    def newest_before(self, breeder_ids: IntArray, day: date, with_measures: bool) -> list[Any]:
        """Read each given breeder's newest snapshot dated on or before a day, as columns.

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
        params = dict(self.params, breeder_ids=breeder_ids.tolist(), day=day)
        return fetch_columns(sql, params, _dtypes(self.measures, with_measures))

    def place_previous(self, columns: list[Any]) -> None:
        history = self.history
        positions, present = self.positions(columns[0])
        places = positions[present]
        history.previous_found[places] = True
        days: dict[int, date] = {}
        for position, age, band, is_present in zip(
            positions.tolist(), columns[1].tolist(), columns[3], present.tolist(), strict=True
        ):
            if not is_present:
                continue
            if age not in days:
                days[age] = self.table.as_of - timedelta(days=age)
            history.previous_day[position] = days[age]
            history.previous_band[position] = band
        history.previous_score[places] = columns[2][present]
        count = len(self.measures)
        for i, measure in enumerate(self.measures):
            contributions = columns[4 + i][present]
            history.previous_contribution[measure.key][places] = np.nan_to_num(contributions)
            history.previous_raw[measure.key][places] = columns[4 + count + i][present]

    def place_scores(self, columns: list[Any], scores: FloatArray) -> BoolArray:
        """Store the snapshots' scores by position; return where a snapshot was found."""
        found = np.zeros(len(self.table), dtype=np.bool_)
        positions, present = self.positions(columns[0])
        scores[positions[present]] = columns[2][present]
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
    one dated exactly the day before, 7 days before and 30 days before. Those come from
    one scan of the (workspace, day) index per day, and only breeders without one get an
    index probe for the newest earlier snapshot. `subset` says the table holds some of
    the workspace's breeders, not all of them.
    """
    reader = _Reader(workspace_id, table, measures, subset)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min(day) FROM {TABLE} WHERE workspace_id = %s",  # noqa: S608
            [workspace_id],
        )
        oldest = cursor.fetchone()[0]
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
        columns = reader.on_day(day, with_measures)
        if with_measures:
            reader.place_previous(columns)
            found = history.previous_found.copy()
        else:
            found = reader.place_scores(columns, targets[name])
        missing = table.breeder_ids[~found]
        if not len(missing):
            continue
        earlier = reader.newest_before(missing, day, with_measures)
        if with_measures:
            reader.place_previous(earlier)
        else:
            reader.place_scores(earlier, targets[name])
    return history
