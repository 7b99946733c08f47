"""The support-ticket webhook: write-key authentication, validation that names the field,
upserts on (workspace, external id) and escalation paths per category."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from accounts.scope import workspace_scope
from accounts.services import issue_write_key, revoke_write_key
from lifecycle.models.tickets import Ticket
from tests.factories import make_breeder

URL = reverse("webhooks:tickets")


@pytest.fixture
def acme_key(cast):
    _, raw_key = issue_write_key(cast.acme, name="Help desk", actor=cast.alice)
    return raw_key


@pytest.fixture
def breeder(cast):
    return make_breeder(cast.acme, external_id="user-t1", email="tortoise@example.com")


def ticket_body(**changes):
    body = {
        "external_id": "ZD-1001",
        "breeder_external_id": "user-t1",
        "subject": "Pedigree chart will not print",
        "category": "technical",
        "priority": "high",
        "status": "open",
        "satisfaction_rating": 4,
        "opened_at": "2026-03-02T09:15:00Z",
        "solved_at": None,
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


def post(body, key, *, scheme="Bearer"):
    if scheme == "Basic":
        credentials = base64.b64encode(f"{key}:".encode()).decode()
        authorization = f"Basic {credentials}"
    else:
        authorization = f"{scheme} {key}"
    return Client().post(
        URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization,
    )


def tickets_in(workspace):
    with workspace_scope(workspace):
        return list(Ticket.objects.select_related("breeder").order_by("external_id"))


# Authentication ------------------------------------------------------------------


def test_missing_key_rejected(cast):
    response = Client().post(URL, data="{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "missing_write_key"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_key_rejected(cast):
    response = post(ticket_body(), "rdx_not-a-real-key")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"


def test_revoked_key_rejected(cast, breeder):
    key, raw_key = issue_write_key(cast.acme, name="Old desk", actor=cast.alice)
    revoke_write_key(key, actor=cast.alice)
    response = post(ticket_body(), raw_key)
    assert response.status_code == 401
    assert tickets_in(cast.acme) == []


def test_basic_auth_user_name_accepted(cast, breeder, acme_key):
    response = post(ticket_body(), acme_key, scheme="Basic")
    assert response.status_code == 200


def test_get_not_allowed(cast):
    assert Client().get(URL).status_code == 405


# Writing tickets -----------------------------------------------------------------


def test_ticket_created(cast, breeder, acme_key):
    response = post(ticket_body(escalation_level=1), acme_key)
    assert response.status_code == 200
    body = response.json()
    assert body["received"] == 1
    assert body["created"] == 1
    assert body["updated"] == 0
    assert body["tickets"][0]["escalation_path"] == ["product", "engineering"]
    assert body["tickets"][0]["escalated_to"] == "product"

    [ticket] = tickets_in(cast.acme)
    assert ticket.breeder == breeder
    assert ticket.subject == "Pedigree chart will not print"
    assert ticket.priority == "high"
    assert ticket.satisfaction_rating == 4
    assert ticket.opened_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert ticket.source == "webhook"
    assert str(ticket.public_id) == body["tickets"][0]["id"]


def test_ticket_upserted_on_external_id(cast, breeder, acme_key):
    assert post(ticket_body(), acme_key).status_code == 200
    response = post(ticket_body(status="solved", solved_at="2026-03-03T10:00:00+01:00"), acme_key)
    assert response.json()["created"] == 0
    assert response.json()["updated"] == 1
    [ticket] = tickets_in(cast.acme)
    assert ticket.status == "solved"
    assert ticket.solved_at == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("category", "path"),
    [
        ("technical", ["product", "engineering"]),
        ("account", ["csm", "leadership"]),
        ("feature_request", ["product", "roadmap"]),
        ("Feature request", ["product", "roadmap"]),
        ("billing", ["operations", "finance"]),
    ],
)
def test_escalation_path_per_category(cast, breeder, acme_key, category, path):
    response = post(ticket_body(category=category, escalation_level=2), acme_key)
    assert response.status_code == 200
    [ticket] = tickets_in(cast.acme)
    assert ticket.escalation_path == path
    assert ticket.escalated_to == path[1]


def test_workspace_escalation_path_override(cast, breeder, acme_key):
    cast.acme.settings = {"ticket_escalation_paths": {"billing": ["operations", "finance", "cfo"]}}
    cast.acme.save()
    response = post(ticket_body(category="billing", escalation_level=3), acme_key)
    assert response.status_code == 200
    [ticket] = tickets_in(cast.acme)
    assert ticket.escalation_path == ["operations", "finance", "cfo"]
    assert ticket.escalated_to == "cfo"


def test_status_defaults_from_solved_time(cast, breeder, acme_key):
    body = ticket_body(status=..., solved_at="2026-03-02T12:00:00Z")
    assert post(body, acme_key).status_code == 200
    assert tickets_in(cast.acme)[0].status == "solved"


def test_breeder_found_by_email(cast, breeder, acme_key):
    body = ticket_body(breeder_external_id=..., breeder_email="TORTOISE@example.com")
    assert post(body, acme_key).status_code == 200
    assert tickets_in(cast.acme)[0].breeder == breeder


def test_batch_written_together(cast, breeder, acme_key):
    body = {"tickets": [ticket_body(external_id=f"ZD-{n}") for n in range(3)]}
    response = post(body, acme_key)
    assert response.status_code == 200
    assert response.json()["created"] == 3
    assert [ticket.external_id for ticket in tickets_in(cast.acme)] == ["ZD-0", "ZD-1", "ZD-2"]


# Bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "hint"),
    [
        ({"category": "hardware"}, "category", "use one of technical, account"),
        ({"opened_at": "02/03/2026"}, "opened_at", "write it like 2026-03-01T09:30:00Z"),
        ({"opened_at": "2026-03-02T09:15:00"}, "opened_at", "has no UTC offset"),
        ({"opened_at": None}, "opened_at", "is missing"),
        ({"satisfaction_rating": 7}, "satisfaction_rating", "from 1 to 5"),
        ({"satisfaction_rating": "great"}, "satisfaction_rating", "not a whole number"),
        ({"priority": "asap"}, "priority", "low, normal, high, urgent"),
        ({"subject": ""}, "subject", "is missing"),
        ({"categroy": "billing"}, "categroy", "is not a ticket field"),
        ({"breeder_external_id": "user-404"}, "breeder_external_id", "no breeder has"),
        ({"solved_at": "2026-03-01T00:00:00Z"}, "solved_at", "is before opened_at"),
        ({"escalation_level": 3}, "escalation_level", "from 0 to 2"),
    ],
)
def test_bad_field_named_in_error(cast, breeder, acme_key, changes, field, hint):
    response = post(ticket_body(**changes), acme_key)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_ticket"
    assert body["field"] == field
    assert body["message"].startswith(f"{field}: ")
    assert hint in body["message"]
    assert tickets_in(cast.acme) == []


def test_bad_ticket_in_batch_rejects_all(cast, breeder, acme_key):
    body = {"tickets": [ticket_body(external_id="ZD-1"), ticket_body(category="hardware")]}
    response = post(body, acme_key)
    assert response.status_code == 400
    assert response.json()["field"] == "tickets[1].category"
    assert tickets_in(cast.acme) == []


def test_invalid_json_rejected(cast, acme_key):
    response = Client().post(
        URL,
        data="{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {acme_key}",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_oversized_batch_rejected(cast, breeder, acme_key):
    body = {"tickets": [ticket_body(external_id=f"ZD-{n}") for n in range(101)]}
    response = post(body, acme_key)
    assert response.status_code == 400
    assert "at most 100" in response.json()["message"]


# Tenant isolation ----------------------------------------------------------------


def test_key_cannot_reach_other_workspace_breeders(cast, acme_key):
    body = ticket_body(breeder_external_id=cast.globex_breeder.external_id)
    response = post(body, acme_key)
    assert response.status_code == 400
    assert response.json()["field"] == "breeder_external_id"
    assert Ticket.unscoped_objects.count() == 0


def test_same_ticket_id_separate_per_workspace(cast, breeder, acme_key):
    make_breeder(cast.globex, external_id="user-t1")
    _, globex_key = issue_write_key(cast.globex, name="Globex desk", actor=cast.charlie)
    assert post(ticket_body(subject="Acme question"), acme_key).status_code == 200
    assert post(ticket_body(subject="Globex question"), globex_key).status_code == 200
    assert [ticket.subject for ticket in tickets_in(cast.acme)] == ["Acme question"]
    assert [ticket.subject for ticket in tickets_in(cast.globex)] == ["Globex question"]
