"""Tasks through a real Celery worker: workspace scope per task, no leaks between tasks
in one worker process, and the fan-out of periodic jobs."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Invitation
from accounts.roles import Role
from accounts.scope import workspace_scope
from accounts.tasks import MissingWorkspaceError, expire_invitations_everywhere
from reptidex.celery import app
from reptidex.schedule import BEAT_SCHEDULE
from tests import worker_tasks

pytestmark = pytest.mark.worker
TIMEOUT = 20


def test_task_runs_in_given_workspace(cast, celery_worker):
    result = worker_tasks.report_scope.delay(workspace_id=cast.acme.pk).get(timeout=TIMEOUT)
    assert result == {"active_workspace_id": cast.acme.pk, "breeders": ["Acme Python Farm"]}
    result = worker_tasks.report_scope.delay(workspace_id=cast.globex.pk).get(timeout=TIMEOUT)
    assert result == {"active_workspace_id": cast.globex.pk, "breeders": ["Globex Gecko House"]}


def test_task_without_workspace_fails(cast, celery_worker):
    # send_task skips the caller-side signature check, as a caller in another process
    # (or a stale beat entry) would.
    with pytest.raises(MissingWorkspaceError, match="needs workspace_id"):
        app.send_task(worker_tasks.report_scope.name, kwargs={}).get(timeout=TIMEOUT)
    with pytest.raises(MissingWorkspaceError, match="needs workspace_id"):
        worker_tasks.report_scope.delay(workspace_id=str(cast.acme.pk)).get(timeout=TIMEOUT)
    with pytest.raises(MissingWorkspaceError, match="not found"):
        worker_tasks.report_scope.delay(workspace_id=987654).get(timeout=TIMEOUT)


def test_scope_does_not_leak_to_next_task(cast, celery_worker):
    worker_tasks.leave_scope_behind.delay(cast.acme.pk).get(timeout=TIMEOUT)
    result = worker_tasks.count_breeders_without_scope.delay().get(timeout=TIMEOUT)
    assert result == {"error": "WorkspaceScopeError", "active_workspace_id": None}


def test_workspace_task_scope_ends_with_task(cast, celery_worker):
    worker_tasks.report_scope.delay(workspace_id=cast.acme.pk).get(timeout=TIMEOUT)
    result = worker_tasks.count_breeders_without_scope.delay().get(timeout=TIMEOUT)
    assert result["error"] == "WorkspaceScopeError"


def make_expired_invitation(workspace):
    with workspace_scope(workspace):
        return Invitation.objects.create(
            workspace=workspace,
            email=f"late@{workspace.slug}.example",
            role=Role.CSM,
            expires_at=timezone.now() - timedelta(minutes=1),
        )


def test_periodic_job_fans_out_per_workspace(cast, celery_worker):
    acme_invitation = make_expired_invitation(cast.acme)
    globex_invitation = make_expired_invitation(cast.globex)
    fanned_out = expire_invitations_everywhere.delay().get(timeout=TIMEOUT)
    assert fanned_out == 2
    deadline = timezone.now() + timedelta(seconds=TIMEOUT)
    while timezone.now() < deadline:
        acme_invitation.refresh_from_db()
        globex_invitation.refresh_from_db()
        if acme_invitation.revoked_at and globex_invitation.revoked_at:
            break
        time.sleep(0.2)
    assert acme_invitation.revoked_at is not None
    assert globex_invitation.revoked_at is not None


def shortest_gap(schedule):
    """Return the shortest time between two runs of a timedelta or crontab schedule."""
    if isinstance(schedule, timedelta):
        return schedule
    minutes = sorted(hour * 60 + minute for hour in schedule.hour for minute in schedule.minute)
    gaps = [later - earlier for earlier, later in zip(minutes, minutes[1:], strict=False)]
    gaps.append(minutes[0] + 24 * 60 - minutes[-1])
    return timedelta(minutes=min(gaps))


def test_every_periodic_job_expires_before_it_repeats():
    for name, entry in BEAT_SCHEDULE.items():
        expires = entry["options"]["expires"]
        assert expires > 0, name
        assert expires < shortest_gap(entry["schedule"]).total_seconds(), name


def test_celery_uses_json_only():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
