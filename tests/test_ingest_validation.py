"""Invalid input gets a 400 that names the field and the fix. Valid events of a batch
are stored even when others in it are rejected. Also gzip bodies and size limits."""

from __future__ import annotations

import gzip
import json

import pytest
import requests

from tests.test_ingest_support import (
    breeder_of,
    events_of,
    identify,
    make_write_key,
    post,
    track,
)

MESSAGE_WORDS = {
    # code: words that the message must contain to tell the sender what to change
    "missing_identity": ["userId", "anonymousId"],
    "missing_event": ["event"],
    "invalid_timestamp": ["timestamp", "ISO 8601"],
    "invalid_event": ["JSON object"],
    "unsupported_type": ["alias", "identify"],
    "missing_type": ["type", "track"],
    "invalid_field": [],
    "missing_group_id": ["groupId"],
}


@pytest.fixture
def acme_key(cast):
    return make_write_key(cast.acme)


def test_batch_stores_valid_and_lists_rejected(cast, live_server, acme_key):
    batch = [
        track("u1", "Logged In"),
        {"type": "track", "event": "Logged In"},
        {"type": "track", "userId": "u1"},
        track("u1", "Logged In", timestamp="yesterday at noon"),
        "not an event",
        {"type": "alias", "userId": "u1", "previousId": "a1"},
        {"userId": "u1", "event": "Logged In"},
        track("u1", "Logged In", properties=["not", "an", "object"]),
        {"type": "group", "userId": "u1"},
        {"type": "track", "event": "Logged In", "userId": {"id": 1}},
        track("u1", "Logged In", properties={"note": "nul \u0000 byte"}),
        identify("u1", {"name": "Ann"}),
    ]
    response = post(live_server.url, "/v1/batch", {"writeKey": acme_key, "batch": batch})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["accepted"] == 2
    rejected = {item["index"]: item for item in body["rejected"]}
    assert {index: item["code"] for index, item in rejected.items()} == {
        1: "missing_identity",
        2: "missing_event",
        3: "invalid_timestamp",
        4: "invalid_event",
        5: "unsupported_type",
        6: "missing_type",
        7: "invalid_field",
        8: "missing_group_id",
        9: "invalid_field",
        10: "invalid_field",
    }
    for item in rejected.values():
        for word in MESSAGE_WORDS[item["code"]]:
            assert word in item["message"], item
    assert "properties" in rejected[7]["message"]
    assert "userId" in rejected[9]["message"]
    assert "NUL" in rejected[10]["message"]
    assert sorted(event.type for event in events_of(cast.acme)) == ["identify", "track"]


def test_batch_with_only_invalid_events_is_400(cast, live_server, acme_key):
    batch = [{"type": "track", "event": "Logged In"}, {"type": "track", "userId": "u1"}]
    response = post(live_server.url, "/v1/batch", {"writeKey": acme_key, "batch": batch})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_batch"
    assert "All 2 events were rejected" in body["message"]
    assert [item["index"] for item in body["rejected"]] == [0, 1]
    assert events_of(cast.acme) == []


def test_empty_batch_accepted(cast, live_server, acme_key):
    response = post(live_server.url, "/v1/batch", {"writeKey": acme_key, "batch": []})
    assert response.status_code == 200
    assert response.json()["accepted"] == 0


@pytest.mark.parametrize(
    ("path", "message", "code", "word"),
    [
        ("/v1/track", {"userId": "u1"}, "missing_event", "event"),
        ("/v1/track", {"event": "Logged In"}, "missing_identity", "userId"),
        ("/v1/identify", {"traits": {"name": "Ann"}}, "missing_identity", "anonymousId"),
        ("/v1/group", {"userId": "u1", "traits": {}}, "missing_group_id", "groupId"),
        ("/v1/page", {"userId": "u1", "timestamp": 12}, "invalid_timestamp", "timestamp"),
        ("/v1/track", {"type": "identify", "userId": "u1"}, "type_mismatch", "/v1/identify"),
        ("/v1/track", {"userId": "u1", "event": "x" * 201}, "invalid_field", "200"),
        ("/v1/track", {"userId": "u" * 201, "event": "Logged In"}, "invalid_field", "userId"),
    ],
)
def test_single_call_invalid_is_400(cast, live_server, acme_key, path, message, code, word):
    response = post(live_server.url, path, {**message, "writeKey": acme_key})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert word in body["message"]
    assert events_of(cast.acme) == []


@pytest.mark.parametrize(
    ("path", "message", "expected_type"),
    [
        ("/v1/track", {"userId": "u1", "event": "Logged In"}, "track"),
        ("/v1/identify", {"userId": "u1", "traits": {"name": "Ann"}}, "identify"),
        ("/v1/group", {"userId": "u1", "groupId": "g1"}, "group"),
        ("/v1/page", {"anonymousId": "a1", "name": "Home"}, "page"),
    ],
)
def test_single_call_endpoints_store_event(
    cast, live_server, acme_key, path, message, expected_type
):
    response = post(live_server.url, path, message, basic=acme_key)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    events = events_of(cast.acme)
    assert [event.type for event in events] == [expected_type]
    assert events[0].payload["type"] == expected_type


def test_screen_accepted_in_batch(cast, live_server, acme_key):
    message = {"type": "screen", "userId": "u1", "name": "Collection"}
    response = post(live_server.url, "/v1/batch", {"batch": [message]}, basic=acme_key)
    assert response.status_code == 200
    assert [event.type for event in events_of(cast.acme)] == ["screen"]


def test_missing_message_id_generated(cast, live_server, acme_key):
    message = {"type": "track", "userId": "u1", "event": "Logged In"}
    response = post(live_server.url, "/v1/batch", {"batch": [message]}, basic=acme_key)
    assert response.status_code == 200
    [event] = events_of(cast.acme)
    assert len(event.message_id) == 36
    assert event.payload["messageId"] == event.message_id


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_body"),
        (b'{"sentAt": "2024-05-01T00:00:00Z"}', "missing_batch"),
        (b'{"batch": {"type": "track"}}', "invalid_batch"),
        (b'{"batch": [], "sentAt": "soon"}', "invalid_timestamp"),
    ],
)
def test_malformed_body_is_400(cast, live_server, acme_key, data, code):
    response = post(live_server.url, "/v1/batch", data, basic=acme_key)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_get_not_allowed(cast, live_server):
    response = requests.get(f"{live_server.url}/v1/batch", timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"


def test_invalid_traits_reported_as_warnings(cast, live_server, acme_key):
    traits = {
        "name": "Ann",
        "email": "not-an-email",
        "operation": "sometimes",
        "timezone": "PST",
        "animal_count": -3,
        "species": "Leopard gecko",
        "country": "Germany",
        "createdAt": "last spring",
    }
    response = post(
        live_server.url, "/v1/identify", {"userId": "u1", "traits": traits}, basic=acme_key
    )

    assert response.status_code == 200, response.text
    warnings = {item["field"]: item["message"] for item in response.json()["warnings"]}
    assert set(warnings) == {
        "traits.email",
        "traits.operation",
        "traits.timezone",
        "traits.animal_count",
        "traits.country",
        "traits.createdAt",
    }
    assert "hobby, part_time, full_time" in warnings["traits.operation"]
    assert "IANA" in warnings["traits.timezone"]
    assert all(message.endswith("the trait was ignored.") for message in warnings.values())
    breeder = breeder_of(cast.acme, "u1")
    assert breeder is not None
    assert breeder.name == "Ann"
    assert breeder.species == ["Leopard gecko"]
    assert breeder.operation == ""
    assert breeder.time_zone == ""
    assert breeder.email == ""


def test_gzip_body_accepted(cast, live_server, acme_key):
    body = {"writeKey": acme_key, "batch": [track("u1", "Logged In"), track("u2", "Logged In")]}
    response = post(live_server.url, "/v1/batch", body, compress=True)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2


def test_gzip_with_several_members_accepted(cast, live_server, acme_key):
    text = json.dumps({"writeKey": acme_key, "batch": [track("u1", "Logged In")]}).encode()
    data = gzip.compress(text[:20]) + gzip.compress(text[20:])
    response = post(live_server.url, "/v1/batch", data, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"plain text, not gzip", "invalid_gzip"),
        (gzip.compress(b'{"batch": []}')[:-6], "invalid_gzip"),
    ],
)
def test_bad_gzip_is_400(cast, live_server, acme_key, data, code):
    response = post(
        live_server.url, "/v1/batch", data, basic=acme_key, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert "gzip" in response.json()["message"]


def test_unknown_encoding_is_415(cast, live_server, acme_key):
    response = post(
        live_server.url,
        "/v1/batch",
        {"batch": []},
        basic=acme_key,
        headers={"Content-Encoding": "br"},
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_encoding"


def test_request_over_500_kb_is_413(cast, live_server, acme_key):
    filler = "x" * 20_000
    batch = [track("u1", "Logged In", properties={"filler": filler}) for _ in range(26)]
    data = json.dumps({"writeKey": acme_key, "batch": batch}).encode()
    assert len(data) > 500 * 1024

    response = post(live_server.url, "/v1/batch", data)

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert "512000" in response.json()["message"]
    assert events_of(cast.acme) == []


def test_gzip_over_500_kb_decompressed_is_413(cast, live_server, acme_key):
    # A few kilobytes on the wire that expand far past the limit.
    body = {
        "writeKey": acme_key,
        "batch": [track("u1", "Logged In", properties={"p": " " * 900_000})],
    }
    compressed = gzip.compress(json.dumps(body).encode())
    assert len(compressed) < 10_000

    response = post(live_server.url, "/v1/batch", compressed, headers={"Content-Encoding": "gzip"})

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert "decompressed" in response.json()["message"]


def test_event_over_32_kb_rejected_in_batch(cast, live_server, acme_key):
    big = track("u1", "Photo Uploaded", properties={"caption": "x" * 33_000})
    body = {"writeKey": acme_key, "batch": [track("u1", "Logged In"), big]}
    response = post(live_server.url, "/v1/batch", body)

    assert response.status_code == 200
    [rejection] = response.json()["rejected"]
    assert rejection["index"] == 1
    assert rejection["code"] == "event_too_large"
    assert "32768" in rejection["message"]
    assert [event.event_name for event in events_of(cast.acme)] == ["Logged In"]


def test_single_call_over_32_kb_is_413(cast, live_server, acme_key):
    message = track("u1", "Photo Uploaded", properties={"caption": "x" * 33_000})
    response = post(live_server.url, "/v1/track", message, basic=acme_key)
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert events_of(cast.acme) == []


def test_csrf_still_enforced_outside_ingestion(cast, live_server):
    response = requests.post(
        f"{live_server.url}/accounts/login/",
        data={"login": "alice@example.com", "password": "x"},
        timeout=10,
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("path", "message", "field", "words"),
    [
        ("/v1/identify", {"traits": {"animal_count": 10**12}}, "traits.animal_count", "maximum"),
        (
            "/v1/identify",
            {"traits": {"createdAt": "2999-01-01T00:00:00Z"}},
            "traits.createdAt",
            "future",
        ),
        ("/v1/group", {"groupId": "g1", "traits": {"name": ["A", "B"]}}, "traits.name", "string"),
        ("/v1/group", {"groupId": "g1", "traits": {"name": "x" * 201}}, "traits.name", "200"),
    ],
)
def test_out_of_range_traits_reported(cast, live_server, acme_key, path, message, field, words):
    response = post(live_server.url, path, {"userId": "u1", **message}, basic=acme_key)
    assert response.status_code == 200, response.text
    [warning] = response.json()["warnings"]
    assert warning["field"] == field
    assert words in warning["message"]
    assert len(events_of(cast.acme)) == 1
