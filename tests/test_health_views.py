"""The alerts inbox, the header count, alert actions and the health panel, with the cast."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.scope import workspace_scope
from health import scoring
from health.models import Alert, AlertState
from tests.factories import make_breeder


def make_alert(workspace, breeder, kind="entered_red", owner=None, severity="critical"):
    with workspace_scope(workspace):
        return Alert.objects.create(
            workspace=workspace,
            breeder=breeder,
            kind=kind,
            severity=severity,
            owner=owner,
            title=f"{kind} alert",
            opened_at=timezone.now(),
        )


@pytest.fixture
def acme_alert(cast):
    return make_alert(cast.acme, cast.acme_breeder, owner=cast.bob)


@pytest.fixture
def globex_alert(cast):
    return make_alert(cast.globex, cast.globex_breeder, owner=cast.charlie)


def action_url(alert, action, slug="acme"):
    return reverse("health:alert_action", args=[slug, alert.public_id, action])


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_members_open_inbox_and_panel(cast, client_for, acme_alert, who):
    client = client_for(getattr(cast, who))
    assert client.get(reverse("health:alerts", args=["acme"])).status_code == 200
    assert client.get(reverse("health:alert_count", args=["acme"])).status_code == 200
    panel = reverse("health:breeder_health", args=["acme", cast.acme_breeder.public_id])
    assert client.get(panel).status_code == 200


def test_inbox_shows_only_my_alerts(cast, client_for, acme_alert, globex_alert):
    content = client_for(cast.bob).get(reverse("health:alerts", args=["acme"])).content
    assert b"entered_red alert" in content
    assert str(globex_alert.public_id).encode() not in content
    alice_inbox = client_for(cast.alice).get(reverse("health:alerts", args=["acme"])).content
    assert str(acme_alert.public_id).encode() not in alice_inbox


def test_count_drops_after_acknowledge(cast, client_for, acme_alert):
    client = client_for(cast.bob)
    count_url = reverse("health:alert_count", args=["acme"])
    assert b'aria-label="1 open"' in client.get(count_url).content
    response = client.post(action_url(acme_alert, "acknowledge"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Trigger"] == "alerts-changed"
    assert b"Acknowledged" in response.content
    assert b'aria-label="0 open"' in client.get(count_url).content


def test_snooze_and_resolve(cast, client_for, acme_alert):
    client = client_for(cast.bob)
    until = (timezone.localdate() + timedelta(days=3)).isoformat()
    client.post(action_url(acme_alert, "snooze"), {"until": until})
    acme_alert.refresh_from_db()
    assert acme_alert.state == AlertState.SNOOZED
    response = client.post(
        action_url(acme_alert, "snooze"), {"until": "next week"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert b"YYYY-MM-DD" in response.content
    client.post(action_url(acme_alert, "resolve"), {"note": "Called, all good"})
    acme_alert.refresh_from_db()
    assert acme_alert.state == AlertState.RESOLVED
    assert acme_alert.note == "Called, all good"


def test_viewer_cannot_act(cast, client_for, acme_alert):
    response = client_for(cast.vera).post(action_url(acme_alert, "acknowledge"))
    assert response.status_code == 403
    acme_alert.refresh_from_db()
    assert acme_alert.state == AlertState.OPEN


def test_other_workspace_alert_is_404(cast, client_for, globex_alert):
    for action in ["acknowledge", "resolve"]:
        response = client_for(cast.alice).post(action_url(globex_alert, action), {"note": "x"})
        assert response.status_code == 404
    assert client_for(cast.charlie).get(reverse("health:alerts", args=["acme"])).status_code == 404
    globex_alert.refresh_from_db()
    assert globex_alert.state == AlertState.OPEN


def test_bad_alert_id_or_action(cast, client_for, acme_alert):
    client = client_for(cast.bob)
    assert (
        client.post(reverse("health:alert_action", args=["acme", "nope", "resolve"])).status_code
        == 404
    )
    assert client.post(action_url(acme_alert, "explode")).status_code == 404


def test_pool_alerts_for_pool_workers(cast, client_for):
    pool_alert = make_alert(cast.acme, cast.acme_breeder, kind="detractor", severity="high")
    client = client_for(cast.bob)
    assert (
        str(pool_alert.public_id).encode()
        not in client.get(reverse("health:alerts", args=["acme"])).content
    )
    Membership.unscoped_objects.filter(user=cast.bob).update(works_pool=True)
    assert (
        str(pool_alert.public_id).encode()
        in client.get(reverse("health:alerts", args=["acme"])).content
    )


def test_health_panel_shows_breakdown(cast, client_for):
    with workspace_scope(cast.acme):
        breeder = make_breeder(
            cast.acme, assigned_csm=cast.bob, signed_up_at=timezone.now() - timedelta(days=10)
        )
        scoring.recompute(cast.acme.pk)
    response = client_for(cast.bob).get(
        reverse("health:breeder_health", args=["acme", breeder.public_id])
    )
    assert b"Data quality" in response.content
    assert b"no data, left out" in response.content
    assert b"provisional" in response.content
    measured = [row for row in response.context["breakdown"] if row["status"] == "ok"]
    assert measured
    for row in measured:
        assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}", row["as_of"]), row


def test_health_panel_of_other_workspace_is_404(cast, client_for):
    url = reverse("health:breeder_health", args=["acme", cast.globex_breeder.public_id])
    assert client_for(cast.alice).get(url).status_code == 404


def test_inbox_query_count_flat(cast, client_for, django_assert_max_num_queries):
    client = client_for(cast.bob)
    make_alert(cast.acme, cast.acme_breeder, owner=cast.bob)
    with django_assert_max_num_queries(8):
        client.get(reverse("health:alerts", args=["acme"]))
    for index in range(15):
        breeder = make_breeder(cast.acme, assigned_csm=cast.bob)
        make_alert(cast.acme, breeder, kind="score_drop", owner=cast.bob, severity="high")
        del index
    with django_assert_max_num_queries(8):
        response = client.get(reverse("health:alerts", args=["acme"]))
    assert len(response.context["alerts"]) == 16


def test_follow_up_task_from_alert_once(cast, client_for, acme_alert, globex_alert):
    from lifecycle.models import Task

    client = client_for(cast.bob)
    response = client.post(action_url(acme_alert, "task"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"Follow-up task for you" in response.content
    client.post(action_url(acme_alert, "task"))
    with workspace_scope(cast.acme):
        tasks = list(Task.objects.filter(breeder=cast.acme_breeder))
    assert len(tasks) == 1
    assert (tasks[0].source, tasks[0].assignee) == ("alert", cast.bob)
    assert tasks[0].title == "Follow up: entered_red alert"
    due = tasks[0].due_on
    assert f"due {due.day} {due:%b}.".encode() in response.content
    acme_alert.refresh_from_db()
    assert acme_alert.state == AlertState.ACKNOWLEDGED
    assert client_for(cast.vera).post(action_url(acme_alert, "task")).status_code == 403
    assert client.post(action_url(globex_alert, "task")).status_code == 404
