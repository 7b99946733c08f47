"""The one place that declares periodic jobs.

Every job has an expiry shorter than its interval: when the broker holds a backlog
(after an outage, say), a stale copy is dropped instead of running the job twice.
"""

from datetime import timedelta
from typing import Any

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "expire-invitations": {
        "task": "accounts.tasks.expire_invitations_everywhere",
        "schedule": crontab(minute=7),
        "options": {"expires": timedelta(minutes=50).total_seconds()},
    },
    # Events whose processing task was lost or never queued (broker down).
    "process-pending-events": {
        "task": "lifecycle.tasks.process_pending_events_everywhere",
        "schedule": timedelta(minutes=1),
        "options": {"expires": timedelta(seconds=50).total_seconds()},
    },
    # Events waiting for a breeder that was created outside identify calls.
    "attach-waiting-events": {
        "task": "lifecycle.tasks.attach_waiting_events_everywhere",
        "schedule": timedelta(minutes=15),
        "options": {"expires": timedelta(minutes=14).total_seconds()},
    },
}
