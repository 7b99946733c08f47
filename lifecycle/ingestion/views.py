"""HTTP endpoints of the Segment-compatible tracking API.

Every request goes through the same steps: read the body (bounded, gzip allowed),
find the workspace from the write key, take the events from the workspace's rate
limit, check the events, and insert the valid ones in one statement. The response
is sent only after that statement has committed. Processing of the events (breeders,
rollups) is queued after the commit and never runs in the request.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from django.db import InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from lifecycle.ingestion import rate_limit
from lifecycle.ingestion.messages import (
    MAX_EVENT_BYTES,
    MAX_REQUEST_BYTES,
    InvalidMessage,
    parse_request_body,
)
from lifecycle.ingestion.openapi import OPENAPI_JSON
from lifecycle.ingestion.outages import log_outage
from lifecycle.ingestion.storage import insert_events
from lifecycle.ingestion.write_keys import (
    WriteKeyError,
    find_write_key_owner,
    read_write_key,
    touch_write_key,
)
from lifecycle.models import EventType
from lifecycle.tasks import request_processing

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait when the database cannot take the write.
UNAVAILABLE_RETRY_AFTER = 10


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def json_response(
    status: int, data: dict[str, Any], headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(orjson.dumps(data), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a gzip body, stopping as soon as it grows past `limit` bytes."""
    output = b""
    remaining = data
    # A gzip file may hold several members one after another.
    while remaining:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            output += decompressor.decompress(remaining, limit + 1 - len(output))
        except zlib.error as error:
            raise ApiError(
                400,
                "invalid_gzip",
                f"The body is not valid gzip ({error}); compress it "
                "again or drop the Content-Encoding header.",
            ) from None
        if len(output) > limit:
            raise ApiError(
                413,
                "request_too_large",
                f"The body is over {limit} bytes once decompressed; send fewer events per request.",
            )
        if not decompressor.eof:
            raise ApiError(
                400, "invalid_gzip", "The gzip body is truncated; send the whole compressed body."
            )
        remaining = decompressor.unused_data
    return output


def _read_json_body(request: HttpRequest, limit: int) -> dict[str, Any]:
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared:
        try:
            declared_length = int(declared)
        except ValueError:
            raise ApiError(
                400, "invalid_content_length", "Content-Length is not a number."
            ) from None
        if declared_length > limit:
            raise ApiError(
                413,
                "request_too_large",
                f"The body is {declared_length} bytes; the limit for this endpoint is {limit} "
                "bytes. Send fewer events per request.",
            )
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(
            413,
            "request_too_large",
            f"The body is over the limit of {limit} bytes for this endpoint; send fewer events "
            "per request.",
        )
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding == "gzip":
        raw = _gunzip(raw, limit)
    elif encoding not in ("", "identity"):
        raise ApiError(
            415,
            "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not supported; send gzip or an uncompressed body.",
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {error}.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    return body


def _event_count(body: dict[str, Any], endpoint_type: str | None) -> int:
    if endpoint_type is not None:
        return 1
    batch = body.get("batch")
    return max(1, len(batch)) if isinstance(batch, list) else 1


def _ingest(request: HttpRequest, endpoint_type: str | None) -> HttpResponse:
    received_at = timezone.now()
    limit = MAX_REQUEST_BYTES if endpoint_type is None else MAX_EVENT_BYTES
    body = _read_json_body(request, limit)
    owner = find_write_key_owner(read_write_key(request, body))

    cost = _event_count(body, endpoint_type)
    exceeded = rate_limit.consume(owner.workspace_id, owner.rate_limit, cost)
    if exceeded is not None and exceeded.never_fits:
        raise ApiError(
            413,
            "too_many_events",
            f"The request carries {cost} events, more than the workspace's rate limit of "
            f"{exceeded.limit} allows at once; send smaller batches.",
        )
    if exceeded is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"The workspace's limit of {exceeded.limit} events is used up; retry after "
            f"{exceeded.retry_after} seconds. Nothing from this request was stored.",
            headers={"Retry-After": str(exceeded.retry_after)},
        )

    parsed = parse_request_body(body, endpoint_type=endpoint_type, received_at=received_at)
    if parsed.rejected and not parsed.rows:
        first = parsed.rejected[0]
        return json_response(
            400,
            {
                "code": "invalid_batch",
                "message": f"All {parsed.total} events were rejected; the first (index "
                f"{first['index']}): {first['message']}",
                "rejected": parsed.rejected,
            },
        )
    # The write is raw SQL that names the workspace, so no scope is entered here. The
    # processing task enters its own.
    with transaction.atomic():
        inserted = insert_events(owner.workspace_id, parsed.rows, received_at)
        if inserted:
            transaction.on_commit(partial(request_processing, owner.workspace_id))
    touch_write_key(owner)

    if parsed.rejected:
        logger.info(
            "Workspace %s: rejected %s of %s events, first %s",
            owner.workspace_id,
            len(parsed.rejected),
            parsed.total,
            parsed.rejected[0]["code"],
        )
    return json_response(
        200,
        {
            "success": True,
            "accepted": inserted,
            "duplicates": len(parsed.rows) - inserted,
            "rejected": parsed.rejected,
            "warnings": parsed.warnings,
        },
    )


def _endpoint(endpoint_type: str | None) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return json_response(
                405,
                {"code": "method_not_allowed", "message": "Send events with POST."},
                headers={"Allow": "POST"},
            )
        try:
            return _ingest(request, endpoint_type)
        except ApiError as error:
            return json_response(
                error.status, {"code": error.code, "message": error.message}, error.headers
            )
        except WriteKeyError as error:
            return json_response(
                401,
                {"code": error.code, "message": error.message},
                headers={"WWW-Authenticate": 'Basic realm="ReptiDex Success events"'},
            )
        except InvalidMessage as error:
            return json_response(400, {"code": error.code, "message": error.message})
        except (OperationalError, InterfaceError) as error:
            log_outage(
                logger, "ingest-database", "Event write failed, database unavailable: %s", error
            )
            return json_response(
                503,
                {
                    "code": "temporarily_unavailable",
                    "message": "The events could not be stored right now and none were kept; "
                    f"retry after {UNAVAILABLE_RETRY_AFTER} seconds.",
                },
                headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
            )

    view.__name__ = f"ingest_{endpoint_type or 'batch'}"
    return view


batch = _endpoint(None)
track = _endpoint(EventType.TRACK.value)
identify = _endpoint(EventType.IDENTIFY.value)
group = _endpoint(EventType.GROUP.value)
page = _endpoint(EventType.PAGE.value)


def openapi(request: HttpRequest) -> HttpResponse:
    """Serve the OpenAPI 3 description of the tracking API."""
    if request.method not in ("GET", "HEAD"):
        return json_response(
            405, {"code": "method_not_allowed", "message": "Use GET."}, headers={"Allow": "GET"}
        )
    return HttpResponse(OPENAPI_JSON, content_type="application/json")
