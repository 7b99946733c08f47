"""The official segment-analytics-python client sends to our /v1/batch unchanged.

The client (2.4.0) always sends the write key twice: as `writeKey` in the body and as
the HTTP Basic user name. The body-only and Basic-only forms, which other Segment
libraries and hand-written senders use, are sent with plain HTTP requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
import segment.analytics.request
from segment.analytics import Client

from accounts.models import WriteKey
from accounts.scope import workspace_scope
from accounts.services import revoke_write_key
from tests.test_ingest_support import (
    breeder_of,
    events_of,
    make_write_key,
    post,
    rollups_of,
    track,
)


@pytest.fixture
def segment_client(live_server, monkeypatch) -> Iterator:
    """Return a function building a client that posts gzip batches to the live server."""
    # The client sends through one module-level requests session. A kept-alive
    # connection would keep a live-server thread, and that thread's database
    # connection, open past the end of the test. This session sends
    # "Connection: close", so the server closes each connection after its response.
    session = requests.Session()
    session.headers["Connection"] = "close"
    monkeypatch.setattr(segment.analytics.request, "_session", session)
    clients: list[Client] = []
    errors: list[Exception] = []

    def build(write_key: str) -> Client:
        client = Client(
            write_key=write_key,
            host=live_server.url,
            gzip=True,
            max_retries=0,
            upload_interval=0.05,
            on_error=lambda error, batch: errors.append(error),
        )
        client.errors = errors  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.shutdown()
    session.close()


def test_client_batch_is_stored(cast, segment_client):
    key = make_write_key(cast.acme)
    client = segment_client(key)
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

    client.identify(
        "breeder-7",
        {
            "email": "kim@example.com",
            "name": "Kim Lee",
            "business_name": "Lee Pythons",
            "species": ["Ball python", "Corn snake"],
            "animal_count": 40,
            "operation": "part_time",
            "experience": "experienced",
            "country": "de",
            "timezone": "Europe/Berlin",
            "plan": "premium",
            "createdAt": "2024-04-01T08:00:00Z",
        },
    )
    client.track("breeder-7", "Animal Created", {"species": "Ball python"}, timestamp=when)
    client.group("breeder-7", "business-3", {"name": "Lee Pythons GmbH"})
    client.page("breeder-7", name="Marketplace")
    client.flush()

    assert client.errors == []
    events = events_of(cast.acme)
    assert sorted(event.type for event in events) == ["group", "identify", "page", "track"]
    tracked = next(event for event in events if event.type == "track")
    assert tracked.event_name == "Animal Created"
    assert tracked.original_timestamp == when
    assert tracked.payload["properties"] == {"species": "Ball python"}
    assert tracked.payload["context"]["library"]["name"] == "analytics-python"
    assert "writeKey" not in tracked.payload
    assert all(event.processed_at is not None for event in events)

    breeder = breeder_of(cast.acme, "breeder-7")
    assert breeder is not None
    assert breeder.email == "kim@example.com"
    assert breeder.name == "Kim Lee"
    assert breeder.business_name == "Lee Pythons GmbH"
    assert breeder.species == ["Ball python", "Corn snake"]
    assert breeder.animal_count == 40
    assert breeder.operation == "part_time"
    assert breeder.experience == "experienced"
    assert breeder.country == "DE"
    assert breeder.time_zone == "Europe/Berlin"
    assert breeder.plan == "premium"
    assert breeder.signed_up_at == datetime(2024, 4, 1, 8, 0, tzinfo=UTC)
    assert {event.breeder_id for event in events} == {breeder.pk}
    assert rollups_of(cast.acme) == {("breeder-7", "records", "2024-05-01"): 1}


def test_client_rejected_key_reports_error(cast, segment_client):
    client = segment_client("rdx_not-a-key")
    client.track("breeder-7", "Logged In")
    client.flush()

    assert [error.status for error in client.errors] == [401]
    assert client.errors[0].code == "invalid_write_key"
    assert events_of(cast.acme) == []


def test_write_key_in_body_only(cast, live_server):
    key = make_write_key(cast.acme)
    response = post(
        live_server.url, "/v1/batch", {"writeKey": key, "batch": [track("u1", "Logged In")]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    assert [event.user_id for event in events_of(cast.acme)] == ["u1"]


def test_write_key_as_basic_user_only(cast, live_server):
    key = make_write_key(cast.acme)
    response = post(live_server.url, "/v1/batch", {"batch": [track("u1", "Logged In")]}, basic=key)
    assert response.status_code == 200, response.text
    assert [event.user_id for event in events_of(cast.acme)] == ["u1"]


def test_different_keys_in_body_and_basic_rejected(cast, live_server):
    acme_key = make_write_key(cast.acme)
    globex_key = make_write_key(cast.globex)
    body = {"writeKey": acme_key, "batch": [track("u1", "Logged In")]}
    response = post(live_server.url, "/v1/batch", body, basic=globex_key)
    assert response.status_code == 401
    assert response.json()["code"] == "write_key_mismatch"
    assert events_of(cast.acme) == []
    assert events_of(cast.globex) == []


@pytest.mark.parametrize(
    ("body_key", "basic", "code"),
    [
        (None, None, "missing_write_key"),
        ("", None, "missing_write_key"),
        ("rdx_unknown", None, "invalid_write_key"),
        (None, "rdx_unknown", "invalid_write_key"),
    ],
)
def test_missing_or_unknown_key_rejected(cast, live_server, body_key, basic, code):
    body: dict = {"batch": [track("u1", "Logged In")]}
    if body_key is not None:
        body["writeKey"] = body_key
    response = post(live_server.url, "/v1/batch", body, basic=basic)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert "write key" in response.json()["message"].lower()
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_malformed_basic_header_rejected(cast, live_server):
    response = post(
        live_server.url,
        "/v1/batch",
        {"batch": [track("u1", "Logged In")]},
        headers={"Authorization": "Basic %%%not-base64"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_authorization"


def test_revoked_key_rejected_at_once(cast, live_server):
    key = make_write_key(cast.acme)
    body = {"writeKey": key, "batch": [track("u1", "Logged In")]}
    assert post(live_server.url, "/v1/batch", body).status_code == 200

    with workspace_scope(cast.acme):
        write_key = WriteKey.objects.get()
        revoke_write_key(write_key, actor=cast.alice)
    response = post(live_server.url, "/v1/batch", {**body, "batch": [track("u1", "Logged In")]})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"
    assert len(events_of(cast.acme)) == 1


def test_use_recorded_on_key(cast, live_server):
    key = make_write_key(cast.acme)
    response = post(live_server.url, "/v1/track", track("u1", "Logged In"), basic=key)
    assert response.status_code == 200
    with workspace_scope(cast.acme):
        assert WriteKey.objects.get().last_used_at is not None
