"""A per-workspace limit on events, counted in Redis: 429 with Retry-After, nothing
stored from a limited request, other workspaces unaffected."""

from __future__ import annotations

import time

from django.test import override_settings

from accounts.models import Workspace
from tests.test_ingest_support import events_of, make_write_key, post, track


def set_rate_limit(workspace: Workspace, limit: str) -> None:
    workspace.settings = {**workspace.settings, "ingest_rate_limit": limit}
    workspace.save(update_fields=["settings"])


def send(live_server, key: str, count: int):
    batch = [track("u1", "Logged In") for _ in range(count)]
    return post(live_server.url, "/v1/batch", {"writeKey": key, "batch": batch})


def test_over_limit_is_429_with_retry_after(cast, live_server):
    set_rate_limit(cast.acme, "5/minute")
    key = make_write_key(cast.acme)

    assert send(live_server, key, 3).status_code == 200
    limited = send(live_server, key, 3)

    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert "5/minute" in limited.json()["message"]
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert len(events_of(cast.acme)) == 3


def test_limit_counts_per_workspace(cast, live_server):
    set_rate_limit(cast.acme, "2/minute")
    set_rate_limit(cast.globex, "2/minute")
    acme_key = make_write_key(cast.acme)
    globex_key = make_write_key(cast.globex)

    assert send(live_server, acme_key, 2).status_code == 200
    assert send(live_server, acme_key, 1).status_code == 429
    assert send(live_server, globex_key, 2).status_code == 200
    assert len(events_of(cast.globex)) == 2


def test_window_reset_lets_events_in_again(cast, live_server):
    set_rate_limit(cast.acme, "3/second")
    key = make_write_key(cast.acme)
    assert send(live_server, key, 3).status_code == 200
    limited = send(live_server, key, 1)
    assert limited.status_code == 429

    time.sleep(int(limited.headers["Retry-After"]) + 0.1)

    assert send(live_server, key, 1).status_code == 200
    assert len(events_of(cast.acme)) == 4


def test_default_limit_from_settings(cast, live_server):
    key = make_write_key(cast.acme)
    with override_settings(INGEST_RATE_LIMIT="4/hour"):
        assert send(live_server, key, 4).status_code == 200
        limited = send(live_server, key, 1)
    assert limited.status_code == 429
    assert "4/hour" in limited.json()["message"]


def test_batch_larger_than_limit_is_413(cast, live_server):
    set_rate_limit(cast.acme, "10/minute")
    key = make_write_key(cast.acme)

    response = send(live_server, key, 11)

    assert response.status_code == 413
    assert response.json()["code"] == "too_many_events"
    assert "smaller batches" in response.json()["message"]
    assert events_of(cast.acme) == []


def test_invalid_workspace_limit_falls_back_to_default(cast, live_server):
    set_rate_limit(cast.acme, "lots")
    key = make_write_key(cast.acme)
    with override_settings(INGEST_RATE_LIMIT="2/hour"):
        assert send(live_server, key, 2).status_code == 200
        assert send(live_server, key, 1).status_code == 429
