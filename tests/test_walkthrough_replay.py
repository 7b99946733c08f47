"""The RavenStack replay helpers of bench/walkthrough.py, against the live test server.

The fixture files in tests/fixtures/ravenstack/ have RavenStack's columns and a few
rows written for these tests.
"""

from __future__ import annotations

import time
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
import stripe
from django.core.management import call_command

from accounts.models import Workspace
from accounts.scope import workspace_scope
from bench import ravenstack_replay as replay
from lifecycle import billing
from lifecycle.models import DailyActivity, Event, EventMapping, Feature, StripeEvent, Subscription
from lifecycle.simulation.feed import process_all_events
from lifecycle.simulation.stripe import sign_payload
from tests.factories import make_workspace
from tests.test_ingest_support import make_write_key

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ravenstack"
MAPPINGS = Path(__file__).resolve().parent.parent / "docs" / "mappings" / "ravenstack"
SECRET = "whsec_replaytestsecret0123456789"  # noqa: S105 (a test value)


def rows(name: str) -> list[dict[str, str]]:
    return replay.read_rows(FIXTURES / f"ravenstack_{name}.csv")


def import_accounts(workspace: Workspace) -> None:
    call_command(
        "import_csv",
        "--workspace",
        workspace.slug,
        "--kind",
        "breeders",
        "--mapping",
        str(MAPPINGS / "accounts.toml"),
        "--no-progress",
        str(FIXTURES / "ravenstack_accounts.csv"),
        stdout=StringIO(),
    )


def test_signature_verified_by_stripe_library():
    payload = b'{"id": "evt_1", "object": "event"}'
    header = sign_payload(payload, SECRET, int(time.time()))
    stripe.WebhookSignature.verify_header(payload, header, SECRET, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload + b" ", header, SECRET, tolerance=300)


@pytest.mark.parametrize(
    "url", ["http://example.com", "https://10.0.0.5:8000", "ftp://127.0.0.1", "http://127.0.0.2"]
)
def test_remote_url_rejected(url):
    with pytest.raises(replay.NotLocalError):
        replay.require_local_url(url)


def test_local_url_accepted():
    assert replay.require_local_url("http://127.0.0.1:8123/") == "http://127.0.0.1:8123"
    assert replay.require_local_url("http://localhost:8000") == "http://localhost:8000"


def test_usage_calls_use_subscription_account():
    calls, unknown = replay.usage_calls(rows("feature_usage"), rows("subscriptions"))
    assert unknown == 0
    assert [call.user_id for call in calls] == [
        "A-t00001",
        "A-t00001",
        "A-t00002",
        "A-t00003",
        "A-t00001",
        "A-t00001",
    ]
    assert calls[1].properties == {
        "feature": "feature_7",
        "subscription_id": "S-t00001",
        "usage_count": 2,
        "duration_seconds": 140,
        "error_count": 1,
        "beta": True,
    }
    assert calls[0].timestamp.isoformat() == "2024-01-12T12:00:00+00:00"


def test_subscription_events_cover_lifecycle(db):
    events = replay.subscription_events(rows("subscriptions"))
    types = Counter(event["type"] for event in events)
    assert types == {
        "customer.created": 3,
        "customer.subscription.created": 4,
        "customer.subscription.updated": 2,
        "customer.subscription.deleted": 1,
    }
    created = [event["created"] for event in events]
    assert created == sorted(created)
    annual = next(
        event["data"]["object"] for event in events if event["id"] == "evt_S-t00002_created"
    )
    item = annual["items"]["data"][0]
    assert item["price"]["recurring"]["interval"] == "year"
    assert item["quantity"] == 2
    assert annual["status"] == "trialing"


def test_webhook_replay_to_live_server(transactional_db, live_server):
    workspace = make_workspace("raven")
    import_accounts(workspace)
    with workspace_scope(workspace):
        billing.set_stripe_signing_secret(workspace, secret=SECRET, actor=None)
    events = replay.subscription_events(rows("subscriptions"))
    url = f"{live_server.url}/webhooks/stripe/{workspace.public_id}"

    sent = replay.send_stripe_events(url, SECRET, events, threads=2)
    assert sent.errors == []
    assert sent.delivered == len(events)
    again = replay.send_stripe_events(url, SECRET, events, threads=1)
    assert again.duplicates == len(events)

    with workspace_scope(workspace):
        statuses = Counter(StripeEvent.objects.values_list("status", flat=True))
        subscriptions = dict(Subscription.objects.values_list("external_id", "status"))
        pro = Subscription.objects.get(external_id="S-t00001")
        ending = Subscription.objects.get(external_id="S-t00003")
    assert statuses == {"processed": len(events)}
    assert subscriptions == {
        "S-t00001": "active",
        "S-t00002": "canceled",
        "S-t00003": "active",
        "S-t00004": "active",
    }
    assert pro.mrr_minor == 19600
    assert pro.breeder.external_id == "A-t00001"
    assert ending.cancel_at_period_end is True


def test_wrong_secret_rejected_by_live_server(transactional_db, live_server):
    workspace = make_workspace("raven")
    import_accounts(workspace)
    with workspace_scope(workspace):
        billing.set_stripe_signing_secret(workspace, secret=SECRET, actor=None)
    events = replay.subscription_events(rows("subscriptions"))[:1]
    url = f"{live_server.url}/webhooks/stripe/{workspace.public_id}"
    sent = replay.send_stripe_events(url, "whsec_someothersecret123", events)
    assert sent.delivered == 0
    assert sent.statuses == {400: 1}
    assert "invalid_signature" in sent.errors[0]


def test_usage_replay_with_segment_client(transactional_db, live_server):
    workspace = make_workspace("raven")
    import_accounts(workspace)
    with workspace_scope(workspace):
        EventMapping.objects.create(
            workspace=workspace, event_name=replay.USAGE_EVENT, feature=Feature.RECORDS
        )
    calls, _unknown = replay.usage_calls(rows("feature_usage"), rows("subscriptions"))

    result = replay.replay_usage(live_server.url, make_write_key(workspace), calls, batch_size=4)
    assert result.errors == []
    assert result.sent == 6

    with workspace_scope(workspace):
        process_all_events(workspace.pk)
        stored = Event.objects.filter(event_name=replay.USAGE_EVENT)
        # U-t00005 appears twice in the file; the API keeps the first.
        assert stored.count() == 5
        assert stored.filter(breeder__isnull=True).count() == 0
        first = stored.get(message_id="U-t00001")
        assert first.payload["properties"]["feature"] == "feature_3"
        rollups = Counter(DailyActivity.objects.values_list("feature", flat=True))
    assert rollups == {Feature.RECORDS: 5}
