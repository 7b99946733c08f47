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
    "health-recompute-changed": {
        "task": "health.tasks.recompute_changed_everywhere",
        "schedule": timedelta(minutes=2),
        "options": {"expires": timedelta(seconds=100).total_seconds()},
    },
    "health-recompute-all": {
        "task": "health.tasks.recompute_all_everywhere",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": timedelta(hours=6).total_seconds()},
    },
    "health-alert-digests": {
        "task": "health.tasks.send_alert_digests_everywhere",
        "schedule": crontab(hour=7, minute=0),
        "options": {"expires": timedelta(hours=6).total_seconds()},
    },
    "refresh-journeys": {
        "task": "lifecycle.journey_tasks.refresh_journeys_everywhere",
        "schedule": timedelta(minutes=15),
        "options": {"expires": timedelta(minutes=10).total_seconds()},
    },
    # Stripe events stored but never processed (a lost task, a broker outage) are queued
    # again once they are five minutes old.
    "requeue-stripe-events": {
        "task": "lifecycle.billing_tasks.requeue_stripe_events_everywhere",
        "schedule": timedelta(minutes=5),
        "options": {"expires": timedelta(minutes=4).total_seconds()},
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
    # Program enrollment, milestone messages and finished enrollments.
    "plan-programs": {
        "task": "programs.tasks.plan_programs_everywhere",
        "schedule": timedelta(minutes=1),
        "options": {"expires": timedelta(seconds=50).total_seconds()},
    },
    # Due emails and outreach tasks; the rows are claimed with SKIP LOCKED.
    "deliver-sends": {
        "task": "programs.tasks.deliver_sends_everywhere",
        "schedule": timedelta(minutes=1),
        "options": {"expires": timedelta(seconds=50).total_seconds()},
    },
}
