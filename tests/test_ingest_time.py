"""Event time is corrected for the sender's clock skew and never lies in the future.
The sender's own timestamp is kept as sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.test_ingest_support import events_of, iso, make_write_key, post, track


@pytest.fixture
def send(cast, live_server):
    key = make_write_key(cast.acme)

    def send_batch(batch: list[dict], **body: object) -> list:
        response = post(live_server.url, "/v1/batch", {"writeKey": key, "batch": batch, **body})
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == []
        return events_of(cast.acme)

    return send_batch


@pytest.mark.parametrize("skew", [timedelta(hours=1), timedelta(hours=-2), timedelta(0)])
def test_clock_skew_corrected(send, skew):
    client_now = datetime.now(UTC) + skew
    happened = client_now - timedelta(minutes=5)

    [event] = send([track("u1", "Logged In", timestamp=iso(happened), sentAt=iso(client_now))])

    assert event.original_timestamp == happened.replace(
        microsecond=happened.microsecond // 1000 * 1000
    )
    assert event.sent_at is not None
    assert event.timestamp == event.received_at - (event.sent_at - event.original_timestamp)
    # Five minutes before the server received it, whatever the sender's clock showed.
    assert abs(event.received_at - event.timestamp - timedelta(minutes=5)) < timedelta(seconds=1)
    assert event.timestamp <= event.received_at


def test_future_timestamp_without_sent_at_capped(send):
    future = datetime.now(UTC) + timedelta(days=3)
    [event] = send([track("u1", "Logged In", timestamp=iso(future))])

    assert event.original_timestamp is not None
    assert event.original_timestamp > event.received_at
    assert event.timestamp == event.received_at


def test_timestamp_after_sent_at_capped(send):
    sent = datetime.now(UTC)
    [event] = send(
        [track("u1", "Logged In", timestamp=iso(sent + timedelta(hours=1)), sentAt=iso(sent))]
    )
    assert event.timestamp == event.received_at


def test_missing_timestamp_uses_receive_time(send):
    message = track("u1", "Logged In")
    [event] = send([message])
    assert event.original_timestamp is None
    assert event.timestamp == event.received_at


def test_batch_sent_at_used_unless_event_has_own(send):
    now = datetime.now(UTC)
    batch_sent = now + timedelta(hours=3)
    own_sent = now + timedelta(hours=1)
    happened = now - timedelta(minutes=30)
    batch = [
        track("u1", "Logged In", timestamp=iso(happened + timedelta(hours=3))),
        track(
            "u2", "Logged In", timestamp=iso(happened + timedelta(hours=1)), sentAt=iso(own_sent)
        ),
    ]

    events = {event.user_id: event for event in send(batch, sentAt=iso(batch_sent))}

    for user_id in ("u1", "u2"):
        event = events[user_id]
        delay = event.received_at - event.timestamp
        assert abs(delay - timedelta(minutes=30)) < timedelta(seconds=1), user_id
    assert events["u1"].sent_at == events["u1"].original_timestamp + timedelta(minutes=30)


def test_timestamp_without_offset_read_as_utc(send):
    [event] = send([track("u1", "Logged In", timestamp="2024-03-10T07:30:00")])
    assert event.original_timestamp == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)
    assert event.timestamp == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)
