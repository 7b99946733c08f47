"""Staff tasks: created from the breeder page, listed per member, completed with an outcome
that goes on the timeline; with the cast."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.scope import workspace_scope
from lifecycle.models import Task, TaskStatus, TimelineEntry, TimelineKind


def make_task(workspace, breeder, assignee, title="Call about pedigrees", days=2):
    with workspace_scope(workspace):
        return Task.objects.create(
            workspace=workspace,
            breeder=breeder,
            title=title,
            due_on=timezone.localdate() + timedelta(days=days),
            assignee=assignee,
        )


@pytest.fixture
def bob_task(cast):
    return make_task(cast.acme, cast.acme_breeder, cast.bob)


def create_url(breeder, slug="acme"):
    return reverse("lifecycle:create_task", args=[slug, breeder.public_id])


def complete_url(task, slug="acme"):
    return reverse("lifecycle:complete_task", args=[slug, task.public_id])


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_members_open_task_list(cast, client_for, who):
    assert (
        client_for(getattr(cast, who)).get(reverse("lifecycle:tasks", args=["acme"])).status_code
        == 200
    )


def test_list_shows_only_my_open_tasks(cast, client_for, bob_task):
    overdue = make_task(cast.acme, cast.acme_breeder, cast.bob, title="Overdue check-in", days=-1)
    make_task(cast.acme, cast.acme_breeder, cast.alice, title="Alice's own task")
    response = client_for(cast.bob).get(reverse("lifecycle:tasks", args=["acme"]))
    assert [task.title for task in response.context["tasks"]] == [overdue.title, bob_task.title]
    assert b"overdue" in response.content


def test_csm_creates_task_from_breeder(cast, client_for):
    due = (timezone.localdate() + timedelta(days=5)).isoformat()
    response = client_for(cast.bob).post(
        create_url(cast.acme_breeder), {"task-title": "Send the pedigree guide", "task-due_on": due}
    )
    assert response.status_code == 302
    with workspace_scope(cast.acme):
        task = Task.objects.get()
    assert task.assignee == cast.bob
    assert task.due_on.isoformat() == due


def test_task_without_due_date_names_field(cast, client_for):
    response = client_for(cast.bob).post(
        create_url(cast.acme_breeder), {"task-title": "x"}, follow=True
    )
    assert b"due_on: This field is required" in response.content
    assert not Task.unscoped_objects.exists()


def test_complete_puts_outcome_on_timeline(cast, client_for, bob_task):
    response = client_for(cast.bob).post(
        complete_url(bob_task), {"outcome": "Left a voicemail"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    bob_task.refresh_from_db()
    assert bob_task.status == TaskStatus.DONE
    with workspace_scope(cast.acme):
        entry = TimelineEntry.objects.get(kind=TimelineKind.TASK)
    assert entry.title == "Task done: Call about pedigrees"
    assert entry.body == "Left a voicemail"
    again = client_for(cast.bob).post(
        complete_url(bob_task), {"outcome": "Twice"}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 400
    assert b"already closed" in again.content


def test_complete_needs_outcome(cast, client_for, bob_task):
    response = client_for(cast.bob).post(
        complete_url(bob_task), {"outcome": " "}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    bob_task.refresh_from_db()
    assert bob_task.status == TaskStatus.OPEN


def test_viewer_cannot_create_or_complete(cast, client_for, bob_task):
    client = client_for(cast.vera)
    due = timezone.localdate().isoformat()
    assert (
        client.post(
            create_url(cast.acme_breeder), {"task-title": "x", "task-due_on": due}
        ).status_code
        == 403
    )
    assert client.post(complete_url(bob_task), {"outcome": "x"}).status_code == 403
    bob_task.refresh_from_db()
    assert bob_task.status == TaskStatus.OPEN


def test_other_workspace_task_and_breeder_are_404(cast, client_for):
    globex_task = make_task(cast.globex, cast.globex_breeder, cast.charlie)
    client = client_for(cast.alice)
    assert client.post(complete_url(globex_task), {"outcome": "x"}).status_code == 404
    due = timezone.localdate().isoformat()
    assert (
        client.post(
            create_url(cast.globex_breeder), {"task-title": "x", "task-due_on": due}
        ).status_code
        == 404
    )
    assert (
        client_for(cast.charlie).get(reverse("lifecycle:tasks", args=["acme"])).status_code == 404
    )
    assert client.post(reverse("lifecycle:complete_task", args=["acme", "nope"])).status_code == 404
    globex_task.refresh_from_db()
    assert globex_task.status == TaskStatus.OPEN
