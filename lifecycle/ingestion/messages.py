"""Check Segment-style messages and turn them into rows ready to insert.

This runs for every event of every request, so it stays plain Python over the decoded
JSON: no ORM, no regular expressions, one serialisation per event (which is also how
its size is measured).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from lifecycle.models.events import MAX_EVENT_NAME_LENGTH, MAX_ID_LENGTH, EventType
from lifecycle.traits import check_group_name, clean_traits, json_type_name

# Limits of the Segment HTTP tracking API: 32 KB per event, 500 KB per request.
MAX_EVENT_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024

BATCH_TYPES = frozenset(EventType.values)
TYPE_LIST = "track, identify, group, page or screen"
OBJECT_FIELDS = ("properties", "traits", "context", "integrations")


class InvalidMessage(ValueError):
    """One message (or a whole request body) breaks the contract."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class EventRow:
    message_id: str
    type: str
    event_name: str
    user_id: str
    anonymous_id: str
    group_id: str
    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    payload: str


@dataclass
class ParsedRequest:
    """The outcome of checking one request: rows to insert, rejections and warnings."""

    rows: list[EventRow] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_time(value: object, name: str) -> datetime | None:
    """Parse an ISO 8601 date-time; one without an offset is taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidMessage(
            "invalid_timestamp",
            f"{name} must be an ISO 8601 date-time string such as 2024-05-01T12:30:00.000Z, "
            f"not {json_type_name(value)}.",
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(
            "invalid_timestamp",
            f"{name} {_short(value)} is not an ISO 8601 date-time; send a value such as "
            "2024-05-01T12:30:00.000Z.",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def correct_clock_skew(
    timestamp: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """Return the event time on our clock: receivedAt − (sentAt − timestamp).

    The sender's clock may be off, but the gap between its `timestamp` and its
    `sentAt` was measured on that same clock, so it is subtracted from the time we
    received the message. Without `sentAt` the timestamp is used as sent, without a
    timestamp the receive time. The result is never later than the receive time.
    """
    if timestamp is None:
        return received_at
    if sent_at is None:
        return min(timestamp, received_at)
    try:
        corrected = received_at - (sent_at - timestamp)
    except OverflowError:
        raise InvalidMessage(
            "invalid_timestamp",
            "timestamp and sentAt are too far apart to compute the event time; check both.",
        ) from None
    return min(corrected, received_at)


def _read_id(message: Mapping[str, Any], name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        raise InvalidMessage(
            "invalid_field", f"{name} must be a string, not {json_type_name(value)}."
        )
    if len(text) > MAX_ID_LENGTH:
        raise InvalidMessage(
            "invalid_field",
            f"{name} is {len(text)} characters long; the maximum is {MAX_ID_LENGTH}.",
        )
    return text


def _read_type(message: Mapping[str, Any], endpoint_type: str | None) -> str:
    message_type = message.get("type")
    if endpoint_type is not None:
        if message_type is not None and message_type != endpoint_type:
            raise InvalidMessage(
                "type_mismatch",
                f"type is {_short(message_type)} but this endpoint takes {endpoint_type} "
                f"calls; remove type or send the call to /v1/{message_type} or /v1/batch.",
            )
        return endpoint_type
    if message_type is None:
        raise InvalidMessage("missing_type", f"type is missing; set it to one of {TYPE_LIST}.")
    if message_type == "alias":
        raise InvalidMessage(
            "unsupported_type",
            "alias calls are not supported; to link an anonymous visitor to a user, send "
            "an identify call that carries both userId and anonymousId.",
        )
    if message_type not in BATCH_TYPES:
        raise InvalidMessage(
            "invalid_type", f"type {_short(message_type)} is not one of {TYPE_LIST}."
        )
    return str(message_type)


def _read_event_name(message: Mapping[str, Any]) -> str:
    name = message.get("event")
    if name is None or name == "":
        raise InvalidMessage(
            "missing_event",
            'event is missing; a track call needs the event name, such as "Animal Created".',
        )
    if not isinstance(name, str):
        raise InvalidMessage(
            "invalid_field", f"event must be a string, not {json_type_name(name)}."
        )
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise InvalidMessage(
            "invalid_field",
            f"event is {len(name)} characters long; the maximum is {MAX_EVENT_NAME_LENGTH}.",
        )
    return name


def parse_message(
    raw: object,
    *,
    endpoint_type: str | None,
    batch_sent_at: datetime | None,
    batch_context: Mapping[str, Any] | None,
    received_at: datetime,
    warnings: list[tuple[str, str]],
) -> EventRow:
    """Check one message and build its row, or raise InvalidMessage.

    Trait problems of an identify call do not reject it: they are appended to
    `warnings` as (field, message) pairs.
    """
    if not isinstance(raw, dict):
        raise InvalidMessage(
            "invalid_event", f"Each event must be a JSON object, not {json_type_name(raw)}."
        )
    message: dict[str, Any] = raw
    message.pop("writeKey", None)
    message_type = _read_type(message, endpoint_type)
    message["type"] = message_type

    for name in OBJECT_FIELDS:
        value = message.get(name)
        if value is not None and not isinstance(value, dict):
            raise InvalidMessage(
                "invalid_field", f"{name} must be a JSON object, not {json_type_name(value)}."
            )

    user_id = _read_id(message, "userId")
    anonymous_id = _read_id(message, "anonymousId")
    if not user_id and not anonymous_id:
        raise InvalidMessage(
            "missing_identity",
            "userId and anonymousId are both missing; set userId (the breeder's id in "
            "ReptiDex), anonymousId, or both.",
        )
    message_id = _read_id(message, "messageId")
    if not message_id:
        # Senders that set no messageId cannot be deduplicated on retry; Segment fills
        # one in the same way.
        message_id = str(uuid.uuid4())
        message["messageId"] = message_id

    event_name = ""
    group_id = ""
    if message_type == EventType.TRACK:
        event_name = _read_event_name(message)
    elif message_type == EventType.GROUP:
        group_id = _read_id(message, "groupId")
        if not group_id:
            raise InvalidMessage(
                "missing_group_id", "groupId is missing; a group call needs the business's id."
            )
        problem = check_group_name((message.get("traits") or {}).get("name"))
        if problem:
            warnings.append(("traits.name", problem))
    elif message_type == EventType.IDENTIFY and message.get("traits"):
        _fields, problems = clean_traits(message["traits"])
        warnings.extend((f"traits.{problem.trait}", problem.message) for problem in problems)

    original_timestamp = parse_time(message.get("timestamp"), "timestamp")
    sent_at = parse_time(message.get("sentAt"), "sentAt") or batch_sent_at
    timestamp = correct_clock_skew(original_timestamp, sent_at, received_at)

    if batch_context:
        message["context"] = {**batch_context, **(message.get("context") or {})}
    payload = orjson.dumps(message)
    if len(payload) > MAX_EVENT_BYTES:
        raise InvalidMessage(
            "event_too_large",
            f"The event is {len(payload)} bytes of JSON; the limit is {MAX_EVENT_BYTES} bytes "
            "(32 KB). Send large values elsewhere and keep properties and traits small.",
        )
    if b"\\u0000" in payload:
        # PostgreSQL cannot store the NUL character in text or JSON.
        raise InvalidMessage(
            "invalid_field", "The event contains the NUL character (\\u0000); remove it."
        )
    return EventRow(
        message_id=message_id,
        type=message_type,
        event_name=event_name,
        user_id=user_id,
        anonymous_id=anonymous_id,
        group_id=group_id,
        timestamp=timestamp,
        original_timestamp=original_timestamp,
        sent_at=sent_at,
        payload=payload.decode(),
    )


def parse_request_body(
    body: Mapping[str, Any], *, endpoint_type: str | None, received_at: datetime
) -> ParsedRequest:
    """Check a whole request body: a batch, or one message for a single-call endpoint.

    Raises InvalidMessage when the request as a whole is invalid. Invalid events of
    a batch are listed in `rejected` with their index instead.
    """
    batch_context = body.get("context") if endpoint_type is None else None
    if batch_context is not None and not isinstance(batch_context, dict):
        raise InvalidMessage(
            "invalid_field", f"context must be a JSON object, not {json_type_name(batch_context)}."
        )
    if endpoint_type is None:
        messages = body.get("batch")
        if messages is None:
            raise InvalidMessage(
                "missing_batch", "batch is missing; send the events as a JSON array in batch."
            )
        if not isinstance(messages, list):
            raise InvalidMessage(
                "invalid_batch", f"batch must be a JSON array, not {json_type_name(messages)}."
            )
        batch_sent_at = parse_time(body.get("sentAt"), "sentAt")
    else:
        messages = [body]
        batch_sent_at = None

    parsed = ParsedRequest(total=len(messages))
    for index, raw in enumerate(messages):
        warnings: list[tuple[str, str]] = []
        try:
            row = parse_message(
                raw,
                endpoint_type=endpoint_type,
                batch_sent_at=batch_sent_at,
                batch_context=batch_context,
                received_at=received_at,
                warnings=warnings,
            )
        except InvalidMessage as error:
            if endpoint_type is not None:
                raise
            parsed.rejected.append({"index": index, "code": error.code, "message": error.message})
            continue
        parsed.rows.append(row)
        for field_name, message in warnings:
            parsed.warnings.append({"index": index, "field": field_name, "message": message})
    return parsed
