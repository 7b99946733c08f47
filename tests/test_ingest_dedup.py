"""Deduplication on (workspace, messageId): retries store nothing twice, also when they
race, and one workspace's messageIds never suppress another's."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from accounts.scope import workspace_scope
from lifecycle.ingestion.messages import parse_request_body
from lifecycle.ingestion.storage import insert_events
from lifecycle.models import Event
from tests.test_ingest_support import events_of, make_write_key, post, track


def test_retried_batch_stored_once(cast, live_server):
    key = make_write_key(cast.acme)
    body = {"writeKey": key, "batch": [track("u1", "Logged In"), track("u2", "Logged In")]}

    first = post(live_server.url, "/v1/batch", body)
    second = post(live_server.url, "/v1/batch", body)

    assert first.json()["accepted"] == 2
    assert second.status_code == 200
    assert second.json()["accepted"] == 0
    assert second.json()["duplicates"] == 2
    assert len(events_of(cast.acme)) == 2


def test_repeated_message_id_in_one_batch_stored_once(cast, live_server):
    key = make_write_key(cast.acme)
    event = track("u1", "Logged In")
    response = post(live_server.url, "/v1/batch", {"writeKey": key, "batch": [event, event]})

    assert response.json()["accepted"] == 1
    assert response.json()["duplicates"] == 1
    assert len(events_of(cast.acme)) == 1


def test_same_message_ids_in_two_workspaces(cast, live_server):
    batch = [track("u1", "Logged In"), track("u2", "Animal Created")]
    for workspace in (cast.acme, cast.globex):
        key = make_write_key(workspace)
        response = post(live_server.url, "/v1/batch", {"writeKey": key, "batch": batch})
        assert response.json()["accepted"] == 2

    acme_ids = [event.message_id for event in events_of(cast.acme)]
    globex_ids = [event.message_id for event in events_of(cast.globex)]
    assert sorted(acme_ids) == sorted(globex_ids) == sorted(m["messageId"] for m in batch)


def test_concurrent_retries_over_http_store_once(cast, live_server):
    key = make_write_key(cast.acme)
    body = {"writeKey": key, "batch": [track(f"u{i % 50}", "Logged In") for i in range(500)]}
    senders = 6
    barrier = threading.Barrier(senders)

    def send() -> dict:
        barrier.wait()
        response = post(live_server.url, "/v1/batch", body)
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(max_workers=senders) as pool:
        results = list(pool.map(lambda _: send(), range(senders)))

    assert sum(result["accepted"] for result in results) == 500
    assert sum(result["duplicates"] for result in results) == 500 * (senders - 1)
    events = events_of(cast.acme)
    assert len(events) == 500
    assert len({event.message_id for event in events}) == 500


@pytest.mark.django_db(transaction=True)
def test_overlapping_inserts_in_threads_never_deadlock(cast):
    """Two batches sharing messageIds in opposite orders, each on its own connection.

    Without sorting the rows before the INSERT, each transaction would lock one shared
    messageId and wait for the other's, and PostgreSQL would abort one as a deadlock.
    """
    received_at = datetime.now(UTC)
    shared = [track("u1", "Logged In") for _ in range(200)]
    batches = [
        shared + [track("u2", "Logged In") for _ in range(50)],
        list(reversed(shared)) + [track("u3", "Logged In") for _ in range(50)],
    ]
    barrier = threading.Barrier(len(batches))
    inserted: list[int] = []
    errors: list[BaseException] = []

    def insert(batch: list[dict]) -> None:
        try:
            rows = parse_request_body(
                {"batch": [dict(message) for message in batch]},
                endpoint_type=None,
                received_at=received_at,
            ).rows
            barrier.wait()
            with transaction.atomic():
                inserted.append(insert_events(cast.acme.pk, rows, received_at))
                # Hold the locks a moment so the two transactions overlap.
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_sleep(0.2)")
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=insert, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(inserted) == [50, 250]
    with workspace_scope(cast.acme):
        assert Event.objects.count() == 300
