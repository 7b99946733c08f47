"""Identify creates or updates breeders, group records their business, anonymous and
not-yet-identified events are attached when their breeder appears, and a write key
never reaches another workspace's breeders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.scope import workspace_scope
from lifecycle.models import AnonymousIdentity, BreederGroup
from lifecycle.tasks import attach_waiting_events_everywhere
from tests.factories import make_breeder
from tests.test_ingest_support import (
    breeder_of,
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
    """Return a function that sends a batch with a workspace's key (Acme by default)."""
    keys: dict[int, str] = {}

    def send_batch(batch: list[dict], workspace=None) -> dict:
        workspace = workspace or cast.acme
        if workspace.pk not in keys:
            keys[workspace.pk] = make_write_key(workspace)
        response = post(
            live_server.url, "/v1/batch", {"writeKey": keys[workspace.pk], "batch": batch}
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == []
        return response.json()

    return send_batch


def test_identify_updates_only_sent_traits(cast, send):
    existing = make_breeder(
        cast.acme, external_id="kim", name="Kim", email="kim@example.com", plan="basic"
    )

    send([identify("kim", {"plan": "premium", "email": None, "business_name": ""})])

    breeder = breeder_of(cast.acme, "kim")
    assert breeder is not None
    assert breeder.pk == existing.pk
    assert breeder.plan == "premium"
    assert breeder.name == "Kim"
    # null leaves a field alone; an empty string clears it.
    assert breeder.email == "kim@example.com"
    assert breeder.business_name == ""
    assert breeder.assigned_csm_id == existing.assigned_csm_id


def test_first_and_last_name_make_name(cast, send):
    send([identify("lee", {"firstName": "Ada", "lastName": "Lee"})])
    breeder = breeder_of(cast.acme, "lee")
    assert breeder is not None
    assert breeder.name == "Ada Lee"


def test_signup_time_from_created_at_else_first_identify(cast, send):
    first_seen = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)
    send(
        [
            identify("with-created", {"createdAt": "2023-12-24T18:00:00+01:00"}),
            identify("without-created", {"name": "Bo"}, timestamp=iso(first_seen)),
        ]
    )
    with_created = breeder_of(cast.acme, "with-created")
    without_created = breeder_of(cast.acme, "without-created")
    assert with_created is not None
    assert without_created is not None
    assert with_created.signed_up_at == datetime(2023, 12, 24, 17, 0, tzinfo=UTC)
    assert without_created.signed_up_at == first_seen


def test_later_identify_wins_within_batch(cast, send):
    now = datetime.now(UTC)
    send(
        [
            identify("kim", {"plan": "premium"}, timestamp=iso(now - timedelta(minutes=1))),
            identify("kim", {"plan": "basic"}, timestamp=iso(now - timedelta(minutes=5))),
        ]
    )
    breeder = breeder_of(cast.acme, "kim")
    assert breeder is not None
    assert breeder.plan == "premium"


def test_events_before_identify_attached_later(cast, send):
    when = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
    send([track("new-user", "Pedigree Created", timestamp=iso(when))])

    [waiting] = events_of(cast.acme)
    assert waiting.breeder_id is None
    assert waiting.user_id == "new-user"
    assert waiting.processed_at is not None
    assert rollups_of(cast.acme) == {}

    send([identify("new-user", {"name": "Newcomer"})])

    breeder = breeder_of(cast.acme, "new-user")
    assert breeder is not None
    assert {event.breeder_id for event in events_of(cast.acme)} == {breeder.pk}
    assert rollups_of(cast.acme) == {("new-user", "pedigrees", "2024-05-02"): 1}


def test_anonymous_events_linked_by_first_identify(cast, send):
    when = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
    send(
        [
            track(None, "Marketplace Browsed", anonymousId="visitor-1", timestamp=iso(when)),
            track(None, "Tutorial Viewed", anonymousId="visitor-1", timestamp=iso(when)),
        ]
    )
    assert {event.breeder_id for event in events_of(cast.acme)} == {None}

    send([identify("kim", {"name": "Kim"}, anonymousId="visitor-1")])
    kim = breeder_of(cast.acme, "kim")
    assert kim is not None
    assert {event.breeder_id for event in events_of(cast.acme)} == {kim.pk}

    # Later anonymous events follow the link at once.
    send([track(None, "Guide Downloaded", anonymousId="visitor-1", timestamp=iso(when))])
    # A second identify cannot move the link to another user.
    send([identify("bo", {"name": "Bo"}, anonymousId="visitor-1")])
    send([track(None, "Logged In", anonymousId="visitor-1", timestamp=iso(when))])

    anonymous = [event for event in events_of(cast.acme) if not event.user_id]
    assert len(anonymous) == 4
    assert {event.breeder_id for event in anonymous} == {kim.pk}
    with workspace_scope(cast.acme):
        link = AnonymousIdentity.objects.get(anonymous_id="visitor-1")
    assert link.breeder_id == kim.pk
    assert link.user_id == "kim"
    assert rollups_of(cast.acme) == {
        ("kim", "marketplace", "2024-05-03"): 1,
        ("kim", "education", "2024-05-03"): 2,
        ("kim", "login", "2024-05-03"): 1,
    }


def test_user_id_wins_over_linked_anonymous_id(cast, send):
    send([identify("kim", {"name": "Kim"}, anonymousId="visitor-1")])
    send([track("someone-else", "Logged In", anonymousId="visitor-1")])

    event = next(event for event in events_of(cast.acme) if event.type == "track")
    assert event.breeder_id is None
    assert event.user_id == "someone-else"


def test_group_sets_business_name(cast, send):
    send(
        [
            identify("kim", {"name": "Kim", "business_name": "Old Name"}),
            {
                "type": "group",
                "userId": "kim",
                "groupId": "biz-9",
                "traits": {"name": "Kim's Geckos", "employees": 3},
            },
        ]
    )
    breeder = breeder_of(cast.acme, "kim")
    assert breeder is not None
    assert breeder.business_name == "Kim's Geckos"
    with workspace_scope(cast.acme):
        group = BreederGroup.objects.get()
    assert group.breeder_id == breeder.pk
    assert group.group_id == "biz-9"
    assert group.traits == {"name": "Kim's Geckos", "employees": 3}


def test_group_before_identify_applied_later(cast, send):
    send(
        [{"type": "group", "userId": "kim", "groupId": "biz-9", "traits": {"name": "Kim's Geckos"}}]
    )
    assert breeder_of(cast.acme, "kim") is None

    send([identify("kim", {"name": "Kim"})])

    breeder = breeder_of(cast.acme, "kim")
    assert breeder is not None
    assert breeder.business_name == "Kim's Geckos"


def test_key_never_touches_other_workspace_breeders(cast, send):
    globex_breeder = make_breeder(
        cast.globex, external_id="shared-id", name="Globex Kim", plan="gold"
    )
    with workspace_scope(cast.globex):
        AnonymousIdentity.objects.create(
            workspace=cast.globex,
            anonymous_id="visitor-9",
            breeder=globex_breeder,
            user_id="shared-id",
        )

    send(
        [
            identify("shared-id", {"name": "Intruder", "plan": "free"}),
            track("shared-id", "Listing Published"),
            track(None, "Logged In", anonymousId="visitor-9"),
            {"type": "group", "userId": "shared-id", "groupId": "g", "traits": {"name": "Taken"}},
        ]
    )

    globex_breeder.refresh_from_db()
    assert globex_breeder.name == "Globex Kim"
    assert globex_breeder.plan == "gold"
    assert globex_breeder.business_name == ""
    assert rollups_of(cast.globex) == {}
    assert events_of(cast.globex) == []

    acme_breeder = breeder_of(cast.acme, "shared-id")
    assert acme_breeder is not None
    assert acme_breeder.pk != globex_breeder.pk
    assert acme_breeder.name == "Intruder"
    acme_events = events_of(cast.acme)
    assert {event.breeder_id for event in acme_events if event.user_id} == {acme_breeder.pk}
    anonymous = next(event for event in acme_events if not event.user_id)
    assert anonymous.breeder_id is None
    with workspace_scope(cast.globex):
        assert BreederGroup.objects.count() == 0


def test_events_never_attach_to_other_workspace_breeder(cast, send):
    globex_breeder = make_breeder(cast.globex, external_id="only-in-globex", time_zone="UTC")

    send([track("only-in-globex", "Sale Completed")])
    attach_waiting_events_everywhere.apply()

    [event] = events_of(cast.acme)
    assert event.breeder_id is None
    assert event.user_id == "only-in-globex"
    assert rollups_of(cast.globex) == {}
    assert breeder_of(cast.acme, "only-in-globex") is None
    globex_breeder.refresh_from_db()
    assert globex_breeder.workspace_id == cast.globex.pk
