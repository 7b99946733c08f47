"""Daily activity rollups per breeder, feature and breeder-local day: kept up to date as
events arrive, counted once however often processing runs, and following the
workspace's own tracking plan."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from celery import current_app
from django.core.cache import cache

from accounts.scope import WorkspaceScopeError, workspace_scope
from accounts.tasks import MissingWorkspaceError
from lifecycle.models import DailyActivity, EventMapping, Feature
from lifecycle.processing import attach_all_waiting_events, process_pending_events
from lifecycle.tasks import (
    attach_waiting_events_everywhere,
    process_events,
    process_pending_events_everywhere,
    processing_flag_key,
)
from reptidex.schedule import BEAT_SCHEDULE
from tests.factories import make_breeder
from tests.test_ingest_support import (
    events_of,
    identify,
    iso,
    make_write_key,
    post,
    rollups_of,
    track,
)


@pytest.fixture
def send(cast, live_server):
    key = make_write_key(cast.acme)

    def send_batch(batch: list[dict]) -> None:
        response = post(live_server.url, "/v1/batch", {"writeKey": key, "batch": batch})
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == []

    return send_batch


def at(text: str) -> str:
    return iso(datetime.fromisoformat(text))


def test_local_day_follows_breeder_time_zone(cast, send):
    send(
        [
            identify("kim", {"timezone": "America/Los_Angeles"}),
            # 23:30 on 9 March in Los Angeles (PST, UTC-8).
            track("kim", "Animal Created", timestamp=at("2024-03-10T07:30:00+00:00")),
            # 00:30 on 10 March in Los Angeles.
            track("kim", "Animal Created", timestamp=at("2024-03-10T08:30:00+00:00")),
            # 23:30 on 10 March in Los Angeles, after the switch to PDT (UTC-7) that
            # morning; in PST it would already be 11 March.
            track("kim", "Photo Uploaded", timestamp=at("2024-03-11T06:30:00+00:00")),
            # 00:30 on 11 March in PDT.
            track("kim", "Animal Created", timestamp=at("2024-03-11T07:30:00+00:00")),
        ]
    )
    assert rollups_of(cast.acme) == {
        ("kim", "records", "2024-03-09"): 1,
        ("kim", "records", "2024-03-10"): 2,
        ("kim", "records", "2024-03-11"): 1,
    }


def test_workspace_time_zone_when_breeder_has_none(cast, send):
    cast.acme.time_zone = "Asia/Tokyo"
    cast.acme.save(update_fields=["time_zone"])

    send(
        [
            identify("kim", {"name": "Kim"}),
            # 01:00 on 2 May in Tokyo (UTC+9).
            track("kim", "Forum Post Created", timestamp=at("2024-05-01T16:00:00+00:00")),
        ]
    )
    assert rollups_of(cast.acme) == {("kim", "community", "2024-05-02"): 1}


def test_first_and_last_event_times_kept(cast, send):
    send(
        [
            identify("kim", {"timezone": "UTC"}),
            track("kim", "Listing Published", timestamp=at("2024-05-01T10:00:00+00:00")),
            track("kim", "Sale Completed", timestamp=at("2024-05-01T18:00:00+00:00")),
            track("kim", "Marketplace Browsed", timestamp=at("2024-05-01T12:00:00+00:00")),
        ]
    )
    with workspace_scope(cast.acme):
        rollup = DailyActivity.objects.get()
    assert rollup.feature == Feature.MARKETPLACE
    assert rollup.day == date(2024, 5, 1)
    assert rollup.event_count == 3
    assert rollup.first_event_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert rollup.last_event_at == datetime(2024, 5, 1, 18, tzinfo=UTC)


def test_counted_once_when_processing_repeats(cast, send):
    batch = [
        identify("kim", {"timezone": "UTC"}),
        track("kim", "Logged In", timestamp=at("2024-05-01T10:00:00+00:00")),
        track("kim", "Logged In", timestamp=at("2024-05-01T11:00:00+00:00")),
    ]
    send(batch)
    send(batch)
    with workspace_scope(cast.acme):
        process_pending_events(cast.acme.pk)
        attach_all_waiting_events(cast.acme.pk)
    process_pending_events_everywhere.apply()
    attach_waiting_events_everywhere.apply()

    assert rollups_of(cast.acme) == {("kim", "login", "2024-05-01"): 2}


def test_later_batches_add_to_the_same_day(cast, send):
    send([identify("kim", {"timezone": "UTC"})])
    for hour in (9, 10, 11):
        send([track("kim", "Webinar Attended", timestamp=at(f"2024-05-01T{hour:02d}:00:00+00:00"))])
    assert rollups_of(cast.acme) == {("kim", "education", "2024-05-01"): 3}


def test_workspace_mapping_overrides_default_plan(cast, send):
    with workspace_scope(cast.acme):
        EventMapping.objects.create(event_name="Clutch Recorded", feature=Feature.RECORDS)
        EventMapping.objects.create(event_name="Logged In", feature=Feature.IGNORED)
        EventMapping.objects.create(event_name="Review Posted", feature=Feature.COMMUNITY)
    # Another workspace's mapping must not apply here.
    with workspace_scope(cast.globex):
        EventMapping.objects.create(event_name="Tutorial Viewed", feature=Feature.IGNORED)

    when = at("2024-05-01T10:00:00+00:00")
    send(
        [
            identify("kim", {"timezone": "UTC"}),
            track("kim", "Clutch Recorded", timestamp=when),
            track("kim", "Logged In", timestamp=when),
            track("kim", "Review Posted", timestamp=when),
            track("kim", "Tutorial Viewed", timestamp=when),
            track("kim", "Something Unplanned", timestamp=when),
            {"type": "page", "userId": "kim", "name": "Home", "timestamp": when},
        ]
    )
    assert rollups_of(cast.acme) == {
        ("kim", "records", "2024-05-01"): 1,
        ("kim", "community", "2024-05-01"): 1,
        ("kim", "education", "2024-05-01"): 1,
    }


def test_beat_job_processes_events_left_pending(cast, send):
    # A processing request that was queued but never ran: the flag stops the
    # ingestion requests from queueing another task.
    cache.set(processing_flag_key(cast.acme.pk), 1, 300)
    start = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    tracks = [
        track(f"user-{n % 7}", "Pedigree Created", timestamp=iso(start + timedelta(seconds=n)))
        for n in range(2400)
    ]
    for offset in range(0, len(tracks), 500):
        send(tracks[offset : offset + 500])
    # The identify calls arrive last, so they land in a later processing chunk than
    # most of their events, which then wait and are attached.
    send([identify(f"user-{n}", {"timezone": "UTC"}) for n in range(7)])
    assert all(event.processed_at is None for event in events_of(cast.acme))

    assert process_pending_events_everywhere.apply().get() == 1

    events = events_of(cast.acme)
    assert all(event.processed_at is not None for event in events)
    assert all(event.breeder_id is not None for event in events)
    rollups = rollups_of(cast.acme)
    assert sum(rollups.values()) == 2400
    assert set(rollups) == {(f"user-{n}", "pedigrees", "2024-05-01") for n in range(7)}


def test_sweep_attaches_events_for_breeder_made_elsewhere(cast, send):
    send(
        [track("made-in-admin", "Integration Connected", timestamp=at("2024-05-01T10:00:00+00:00"))]
    )
    make_breeder(cast.acme, external_id="made-in-admin", time_zone="UTC")
    assert rollups_of(cast.acme) == {}

    attach_waiting_events_everywhere.apply()

    [event] = events_of(cast.acme)
    assert event.breeder_id is not None
    assert rollups_of(cast.acme) == {("made-in-admin", "integrations", "2024-05-01"): 1}


def test_processing_task_needs_workspace(cast):
    with pytest.raises(MissingWorkspaceError):
        process_events.apply(kwargs={}).get()
    with pytest.raises(WorkspaceScopeError):
        process_pending_events(cast.acme.pk)
    with workspace_scope(cast.globex), pytest.raises(WorkspaceScopeError):
        process_pending_events(cast.acme.pk)


@pytest.mark.parametrize("entry", ["process-pending-events", "attach-waiting-events"])
def test_beat_entries_expire_before_next_run(entry):
    job = BEAT_SCHEDULE[entry]
    assert job["task"] in current_app.tasks
    assert 0 < job["options"]["expires"] < job["schedule"].total_seconds()


@pytest.mark.worker
def test_real_worker_folds_events_after_request(cast, live_server, celery_worker):
    key = make_write_key(cast.acme)
    batch = [
        identify("kim", {"timezone": "UTC"}),
        track("kim", "Animal Created", timestamp=at("2024-05-01T10:00:00+00:00")),
        track("kim", "Animal Created", timestamp=at("2024-05-01T11:00:00+00:00")),
    ]
    response = post(live_server.url, "/v1/batch", {"writeKey": key, "batch": batch})
    assert response.status_code == 200
    # Processing runs in the worker, after the response.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not rollups_of(cast.acme):
        time.sleep(0.1)

    assert rollups_of(cast.acme) == {("kim", "records", "2024-05-01"): 2}
    assert all(event.processed_at is not None for event in events_of(cast.acme))
    # The task cleared the flag, so the next request queues a task again.
    assert cache.get(processing_flag_key(cast.acme.pk)) is None
