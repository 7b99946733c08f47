"""Send-window arithmetic in the breeder's own time zone.

Every function takes and returns aware datetimes. Local days are counted on the wall
clock ("day 5 at the time of enrollment"), so a step keeps its local hour across a
daylight-saving change instead of drifting by an hour.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError

from programs.models import SendSettings

UTC = ZoneInfo("UTC")


def settings_for(workspace_id: int) -> SendSettings:
    found = SendSettings.unscoped_objects.filter(workspace_id=workspace_id).first()
    if found is not None:
        return found
    try:
        return SendSettings.unscoped_objects.create(workspace_id=workspace_id)
    except IntegrityError:  # another job created it first
        return SendSettings.unscoped_objects.get(workspace_id=workspace_id)


def local_day_offset(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Return the same local wall-clock time `days` later."""
    local = moment.astimezone(tz)
    shifted = datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=tz)
    # A wall-clock time that does not exist (skipped by a spring change) resolves
    # to the instant an hour later, which is what a person would expect.
    return shifted.astimezone(UTC).astimezone(tz)


def _window(day: date, send: SendSettings, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(send.window_start_hour), tzinfo=tz)
    if send.window_end_hour >= 24:
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    else:
        end = datetime.combine(day, time(send.window_end_hour), tzinfo=tz)
    return start, end


def in_window(moment: datetime, send: SendSettings, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz)
    if local.weekday() not in send.days:
        return False
    start, end = _window(local.date(), send, tz)
    return start <= local < end


def place_in_window(moment: datetime, send: SendSettings, tz: ZoneInfo) -> datetime:
    """Return the first instant at or after `moment` inside the local send window."""
    local = moment.astimezone(tz)
    days = send.days
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in days:
            continue
        start, end = _window(day, send, tz)
        if ahead == 0:
            if local < end:
                return max(local, start).astimezone(UTC)
            continue
        return start.astimezone(UTC)
    raise ValueError("The send settings allow no weekday.")  # pragma: no cover
