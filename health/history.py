"""Score a simulated or imported history day by day, raising the alerts of its last days.

The beat jobs score every breeder once a day and raise alerts as they go. Data that
arrives all at once (the demo simulation, a CSV import, a replay) has no such past.
`backfill_with_alerts` therefore writes one snapshot per day, oldest first. For the
last days of the range it also raises the score alerts (entered red, left green, score
drop, usage anomaly) that the daily job would have raised on those days, dated at the
end of the day. Earlier days raise none, because nobody would work alerts from months
ago.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from health import alerts, scoring

# Days at the end of a backfill for which score alerts are raised.
ALERT_DAYS = 14


@dataclass
class BackfillResult:
    days: int = 0
    snapshots: int = 0
    alerts_opened: int = 0


def backfill_with_alerts(
    workspace_id: int,
    first_day: date,
    last_day: date,
    *,
    step_days: int = 1,
    alert_days: int = ALERT_DAYS,
    progress: Callable[[int, int, date, int], None] | None = None,
) -> BackfillResult:
    """Write snapshots from `first_day` to `last_day` and raise the last days' alerts.

    Must run inside the workspace's scope. `progress` is called after each day with the
    day's position, the number of days, the day and the breeders scored.
    """
    days = []
    day = first_day
    while day <= last_day:
        days.append(day)
        day += timedelta(days=step_days)
    result = BackfillResult(days=len(days))
    model, _ = scoring.active_model(workspace_id)
    alerts_from = last_day - timedelta(days=alert_days - 1)
    for position, day in enumerate(days, start=1):
        scored = scoring.recompute(workspace_id, day)
        result.snapshots += len(scored)
        if day >= alerts_from:
            end_of_day = datetime.combine(day, time(23, 0), tzinfo=UTC)
            candidates = alerts.score_candidates(scored, model)
            result.alerts_opened += alerts.raise_alerts(workspace_id, candidates, model, end_of_day)
        if progress:
            progress(position, len(days), day, len(scored))
    return result
