"""The tickets page of the configuration admin, with the cast."""

from django.urls import reverse
from django.utils import timezone

from accounts.scope import workspace_scope
from lifecycle.models.tickets import Ticket


def admin_client(client_for, user, workspace_slug):
    client = client_for(user)
    # Opening a workspace page makes it the one the admin configures. The portfolio
    # redirects owners and admins without breeders of their own to every breeder.
    portfolio = reverse("health:portfolio", args=[workspace_slug])
    assert client.get(portfolio, follow=True).status_code == 200
    return client


def make_ticket(workspace, breeder, external_id):
    with workspace_scope(workspace):
        return Ticket.objects.create(
            breeder=breeder,
            external_id=external_id,
            source="webhook",
            subject=f"Question {external_id}",
            category="billing",
            status="open",
            opened_at=timezone.now(),
            escalation_path=["operations", "finance"],
            escalation_level=1,
        )


def test_owner_sees_own_tickets_only(cast, client_for):
    make_ticket(cast.acme, cast.acme_breeder, "ACME-1")
    make_ticket(cast.globex, cast.globex_breeder, "GLOBEX-1")
    client = admin_client(client_for, cast.alice, "acme")
    response = client.get(reverse("admin:lifecycle_ticket_changelist"))
    assert response.status_code == 200
    assert b"ACME-1" in response.content
    assert b"GLOBEX-1" not in response.content
    assert b"operations" in response.content


def test_csm_refused(cast, client_for):
    ticket = make_ticket(cast.acme, cast.acme_breeder, "ACME-1")
    client = admin_client(client_for, cast.bob, "acme")
    response = client.get(reverse("admin:lifecycle_ticket_changelist"), follow=True)
    assert response.status_code == 403
    response = client.get(reverse("admin:lifecycle_ticket_change", args=[ticket.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_outsider_ticket_looks_missing(cast, client_for):
    ticket = make_ticket(cast.globex, cast.globex_breeder, "GLOBEX-1")
    client = admin_client(client_for, cast.alice, "acme")
    response = client.get(reverse("admin:lifecycle_ticket_change", args=[ticket.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
