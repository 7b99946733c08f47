"""Find the workspace of a request's write key, with a short-lived cache.

The cache is keyed by the key's SHA-256 hash, which belongs to exactly one workspace,
so no workspace can ever read another's entry. Revoking or changing a key deletes its
entry once the change commits (see lifecycle.signals). The time-to-live bounds how
long an entry can outlive its key if that deletion fails.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone
from redis.exceptions import RedisError

from accounts.models import WriteKey
from accounts.services import hash_write_key
from lifecycle.ingestion.messages import InvalidMessage
from lifecycle.ingestion.outages import log_outage

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60
# `last_used_at` is written at most this often per key, not on every request.
LAST_USED_INTERVAL = timedelta(minutes=5)


class WriteKeyError(InvalidMessage):
    """The request carries no usable write key; the view returns 401."""


@dataclass(frozen=True)
class WriteKeyOwner:
    key_id: int
    key_hash: str
    workspace_id: int
    rate_limit: str | None


def cache_key(key_hash: str) -> str:
    return f"ingest:write-key:{key_hash}"


def _basic_auth_user(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise WriteKeyError(
            "invalid_authorization",
            "The Authorization header is not valid Basic credentials; send "
            "base64('<write key>:') or put the key in writeKey.",
        ) from None
    user, _, _password = decoded.partition(":")
    return user or None


def read_write_key(request: HttpRequest, body: dict[str, Any]) -> str:
    """Return the raw write key from the body's writeKey or the Basic user name."""
    body_key = body.get("writeKey")
    if body_key is not None and not isinstance(body_key, str):
        raise WriteKeyError("invalid_write_key", "writeKey must be a string.")
    header_key = _basic_auth_user(request)
    if body_key and header_key and body_key != header_key:
        raise WriteKeyError(
            "write_key_mismatch",
            "writeKey in the body and the Basic user name are different keys; send one "
            "key, or the same key in both places.",
        )
    key = body_key or header_key
    if not key:
        raise WriteKeyError(
            "missing_write_key",
            "No write key: set writeKey in the JSON body or send it as the HTTP Basic user "
            "name. Workspace admins create keys in the admin under Write keys.",
        )
    return key


def _load_owner(key_hash: str) -> WriteKeyOwner | None:
    # Reads across workspaces on purpose: the key is what tells us the workspace.
    key = (
        WriteKey.unscoped_objects.select_related("workspace")
        .filter(key_hash=key_hash, revoked_at__isnull=True)
        .first()
    )
    if key is None:
        return None
    rate_limit = key.workspace.settings.get("ingest_rate_limit")
    return WriteKeyOwner(
        key_id=key.pk,
        key_hash=key_hash,
        workspace_id=key.workspace_id,
        rate_limit=rate_limit if isinstance(rate_limit, str) else None,
    )


def find_write_key_owner(raw_key: str) -> WriteKeyOwner:
    """Return the workspace of an active key, or raise WriteKeyError."""
    key_hash = hash_write_key(raw_key)
    owner: WriteKeyOwner | None = None
    cache_available = True
    try:
        owner = cache.get(cache_key(key_hash))
    except RedisError as error:
        cache_available = False
        log_outage(
            logger,
            "write-key-cache",
            "Write key cache unavailable (%s); reading the database instead",
            error,
        )
    if owner is None:
        owner = _load_owner(key_hash)
        if owner is not None and cache_available:
            try:
                cache.set(cache_key(key_hash), owner, CACHE_SECONDS)
            except RedisError as error:
                log_outage(logger, "write-key-cache", "Write key cache unavailable (%s)", error)
    if owner is None:
        raise WriteKeyError(
            "invalid_write_key",
            "The write key is unknown or revoked; check it, or ask a workspace admin for "
            "a new one.",
        )
    return owner


def touch_write_key(owner: WriteKeyOwner) -> None:
    """Record that the key was used, at most once per LAST_USED_INTERVAL."""
    guard = f"ws:{owner.workspace_id}:ingest:write-key-used:{owner.key_id}"
    try:
        if not cache.add(guard, 1, int(LAST_USED_INTERVAL.total_seconds())):
            return
    except RedisError:
        return
    # The request's events are committed by now, so a failure here must not turn its
    # response into an error.
    try:
        WriteKey.unscoped_objects.filter(pk=owner.key_id).update(last_used_at=timezone.now())
    except DatabaseError as error:
        log_outage(
            logger,
            "write-key-used",
            "Could not record use of write key %s: %s",
            owner.key_id,
            error,
        )
