"""Helpers shared by the ingestion, identity and rollup tests. This module has no tests.

Events are sent over HTTP to the live test server, the way the ReptiDex product sends
them, and checked afterwards in the database.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from accounts.models import Breeder, Workspace
from accounts.scope import workspace_scope
from accounts.services import issue_write_key
from lifecycle.models import DailyActivity, Event

TIMEOUT = 30


def make_write_key(workspace: Workspace) -> str:
    with workspace_scope(workspace):
        _key, raw_key = issue_write_key(workspace, name="Product", actor=None)
    return raw_key


def basic_auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def post(
    base_url: str,
    path: str,
    body: Any,
    *,
    basic: str | None = None,
    compress: bool = False,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST a JSON body (optionally gzip-compressed) to the live server."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    if compress:
        data = gzip.compress(data)
        sent_headers["Content-Encoding"] = "gzip"
    if basic is not None:
        sent_headers["Authorization"] = basic_auth(basic)
    return requests.post(f"{base_url}{path}", data=data, headers=sent_headers, timeout=TIMEOUT)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def track(user_id: str | None, event: str, **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": str(uuid.uuid4()),
        **fields,
    }
    if user_id is not None:
        message["userId"] = user_id
    return message


def identify(user_id: str | None, traits: dict[str, Any], **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "identify",
        "traits": traits,
        "messageId": str(uuid.uuid4()),
        **fields,
    }
    if user_id is not None:
        message["userId"] = user_id
    return message


def events_of(workspace: Workspace) -> list[Event]:
    with workspace_scope(workspace):
        return list(Event.objects.order_by("pk"))


def breeder_of(workspace: Workspace, external_id: str) -> Breeder | None:
    with workspace_scope(workspace):
        return Breeder.objects.filter(external_id=external_id).first()


def rollups_of(workspace: Workspace) -> dict[tuple[str, str, str], int]:
    """Return {(breeder external id, feature, ISO day): event count}."""
    with workspace_scope(workspace):
        rows = DailyActivity.objects.select_related("breeder")
        return {
            (row.breeder.external_id, row.feature, row.day.isoformat()): row.event_count
            for row in rows
        }
