"""Signed links in breeder emails.

A link carries the workspace's and the breeder's public ids and what it is for, signed
with the site's secret and a salt per purpose, so a preferences link cannot be used as
a survey link and no link reaches another workspace's breeder. Unsubscribe and
preferences links do not expire (mail clients and people use them months later);
survey links expire after the workspace's answer period.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from accounts.models import Breeder, Workspace
from accounts.scope import workspace_scope

SALTS = {
    "unsubscribe": "programs.links.unsubscribe",
    "preferences": "programs.links.preferences",
    "survey": "programs.links.survey",
}


class LinkError(Exception):
    """The link is damaged, expired or points at nothing."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class LinkTarget:
    workspace: Workspace
    breeder: Breeder
    data: dict[str, Any]


def make_token(purpose: str, breeder: Breeder, workspace: Workspace, **data: Any) -> str:
    payload = {"w": str(workspace.public_id), "b": str(breeder.public_id), **data}
    return signing.dumps(payload, salt=SALTS[purpose], compress=True)


@functools.lru_cache(maxsize=8)
def _path_around_token(purpose: str) -> tuple[str, str]:
    # reverse() costs more than the rest of a link; a delivery run builds thousands.
    path = reverse(f"programs:{purpose}", args=[_PLACEHOLDER])
    before, after = path.split(_PLACEHOLDER)
    return before, after


_PLACEHOLDER = "TOKEN"


def link(purpose: str, token: str, **query: Any) -> str:
    before, after = _path_around_token(purpose)
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{settings.SITE_URL}{before}{token}{after}" + (f"?{suffix}" if suffix else "")


def read_token(purpose: str, token: str, *, max_age_days: int | None = None) -> LinkTarget:
    """Check the signature and load the workspace and breeder it names."""
    try:
        payload = signing.loads(
            token,
            salt=SALTS[purpose],
            max_age=None if max_age_days is None else max_age_days * 86_400,
        )
    except signing.SignatureExpired as error:
        raise LinkError("This link has expired.", expired=True) from error
    except signing.BadSignature as error:
        raise LinkError("This link is damaged. Copy the whole link from the email.") from error
    workspace = Workspace.objects.filter(public_id=payload.get("w")).first()
    if workspace is None:
        raise LinkError("This link points at nothing any more.")
    with workspace_scope(workspace):
        breeder = Breeder.objects.filter(public_id=payload.get("b")).first()
    if breeder is None:
        raise LinkError("This link points at nothing any more.")
    return LinkTarget(workspace, breeder, payload)
