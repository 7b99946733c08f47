"""The OpenAPI 3.1 description of the tracking API, served at /v1/openapi.json.

Written by hand. The limits and the list of error codes come from the code that
enforces them, so the description cannot drift from them.
"""

from __future__ import annotations

from typing import Any

import orjson

from lifecycle.ingestion.messages import MAX_EVENT_BYTES, MAX_REQUEST_BYTES
from lifecycle.models.tracking import DEFAULT_EVENT_FEATURES
from lifecycle.traits import TRAIT_FIELDS

# Every `code` a response can carry, with its HTTP status.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "The body is not valid JSON."),
    "invalid_body": (400, "The body is JSON but not an object."),
    "invalid_content_length": (400, "Content-Length is not a number."),
    "invalid_gzip": (400, "Content-Encoding is gzip but the body does not decompress."),
    "missing_batch": (400, "A /v1/batch body has no `batch` array."),
    "invalid_batch": (400, "`batch` is not an array, or every event in it was rejected."),
    "invalid_event": (400, "An event is not a JSON object."),
    "missing_type": (400, "A batch event has no `type`."),
    "invalid_type": (400, "`type` is not track, identify, group, page or screen."),
    "unsupported_type": (400, "`type` is alias, which is not supported."),
    "type_mismatch": (400, "`type` differs from the endpoint's call type."),
    "missing_identity": (400, "Neither `userId` nor `anonymousId` is set."),
    "missing_event": (400, "A track call has no `event` name."),
    "missing_group_id": (400, "A group call has no `groupId`."),
    "invalid_field": (400, "A field has the wrong type, is too long or contains NUL."),
    "invalid_timestamp": (400, "`timestamp` or `sentAt` is not an ISO 8601 date-time."),
    "event_too_large": (400, f"One event is over {MAX_EVENT_BYTES} bytes of JSON."),
    "missing_write_key": (401, "No write key in `writeKey` or the Basic user name."),
    "invalid_write_key": (401, "The write key is unknown or revoked."),
    "invalid_authorization": (401, "The Authorization header is not valid Basic credentials."),
    "write_key_mismatch": (401, "`writeKey` and the Basic user name are different keys."),
    "method_not_allowed": (405, "The endpoint takes POST."),
    "request_too_large": (413, "The body (decompressed) is over the endpoint's size limit."),
    "too_many_events": (413, "The request has more events than the rate limit allows at once."),
    "unsupported_encoding": (415, "Content-Encoding is neither gzip nor identity."),
    "rate_limited": (429, "The workspace's event rate limit is used up; see Retry-After."),
    "temporarily_unavailable": (503, "The database could not take the write; see Retry-After."),
}


def _error(status: int, description: str) -> dict[str, Any]:
    codes = sorted(code for code, (code_status, _) in ERROR_CODES.items() if code_status == status)
    response: dict[str, Any] = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"properties": {"code": {"enum": codes}}},
                    ]
                }
            }
        },
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


_ID = {"type": ["string", "integer"], "maxLength": 200}
_TIME = {"type": "string", "format": "date-time"}

_COMMON_PROPERTIES: dict[str, Any] = {
    "userId": {**_ID, "description": "The breeder's user id in ReptiDex."},
    "anonymousId": {**_ID, "description": "An id for a visitor not yet identified."},
    "messageId": {
        **_ID,
        "description": "Unique per event within the workspace; a repeated messageId is "
        "stored once. The server generates one when it is missing.",
    },
    "timestamp": {**_TIME, "description": "When the event happened, on the sender's clock."},
    "sentAt": {
        **_TIME,
        "description": "When the sender sent the event, on the same clock; with timestamp, "
        "it corrects the sender's clock skew.",
    },
    "context": {"type": "object"},
    "integrations": {"type": "object"},
}


def _message(call_type: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "At least one of userId and anonymousId is required.",
        "properties": {
            "type": {"type": "string", "enum": [call_type]},
            **_COMMON_PROPERTIES,
            **properties,
        },
        "required": required,
        "anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}],
    }


_TRAIT_DESCRIPTION = (
    "Traits of the default tracking plan: "
    + ", ".join(sorted(TRAIT_FIELDS))
    + ". An invalid trait is ignored and reported in `warnings`."
)

SCHEMAS: dict[str, Any] = {
    "Track": _message(
        "track",
        {
            "event": {
                "type": "string",
                "maxLength": 200,
                "examples": sorted(DEFAULT_EVENT_FEATURES),
            },
            "properties": {"type": "object"},
        },
        ["event"],
    ),
    "Identify": _message(
        "identify", {"traits": {"type": "object", "description": _TRAIT_DESCRIPTION}}, []
    ),
    "Group": _message(
        "group",
        {
            "groupId": {**_ID, "description": "The breeder's business."},
            "traits": {
                "type": "object",
                "description": "`name` becomes the breeder's business name.",
            },
        },
        ["groupId"],
    ),
    "Page": _message("page", {"name": {"type": "string"}, "properties": {"type": "object"}}, []),
    "Screen": _message(
        "screen", {"name": {"type": "string"}, "properties": {"type": "object"}}, []
    ),
    "WriteKeyInBody": {
        "type": "object",
        "properties": {
            "writeKey": {
                "type": "string",
                "description": "The workspace's write key, unless sent as the Basic user name.",
            }
        },
    },
    "Batch": {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {
                "type": "array",
                "items": {
                    "oneOf": [
                        {"$ref": f"#/components/schemas/{name}"}
                        for name in ("Track", "Identify", "Group", "Page", "Screen")
                    ],
                    "discriminator": {"propertyName": "type"},
                },
            },
            "sentAt": {**_TIME, "description": "Applies to events without their own sentAt."},
            "context": {"type": "object", "description": "Merged into every event's context."},
            "writeKey": {"type": "string"},
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["success", "accepted", "duplicates", "rejected", "warnings"],
        "properties": {
            "success": {"type": "boolean", "const": True},
            "accepted": {"type": "integer", "description": "Events stored by this request."},
            "duplicates": {
                "type": "integer",
                "description": "Valid events whose messageId was already stored.",
            },
            "rejected": {"type": "array", "items": {"$ref": "#/components/schemas/Rejection"}},
            "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Warning"}},
        },
    },
    "Rejection": {
        "type": "object",
        "required": ["index", "code", "message"],
        "properties": {
            "index": {"type": "integer", "description": "Position in `batch`, from 0."},
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "Warning": {
        "type": "object",
        "required": ["index", "field", "message"],
        "properties": {
            "index": {"type": "integer"},
            "field": {"type": "string", "examples": ["traits.timezone"]},
            "message": {"type": "string"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string", "description": "Names the field and the fix."},
            "rejected": {"type": "array", "items": {"$ref": "#/components/schemas/Rejection"}},
        },
    },
}


def _operation(summary: str, schema: str, limit: int, description: str) -> dict[str, Any]:
    body_schema = {"allOf": [{"$ref": f"#/components/schemas/{schema}"}]}
    if schema != "Batch":
        body_schema["allOf"].append({"$ref": "#/components/schemas/WriteKeyInBody"})
    return {
        "post": {
            "summary": summary,
            "description": f"{description} The body may be gzip-compressed "
            f"(Content-Encoding: gzip) and is limited to {limit} bytes after decompression.",
            "security": [{"writeKeyBasic": []}, {}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            },
            "responses": {
                "200": {
                    "description": "Stored and committed. Rejected events of a batch are "
                    "listed with their index; the others were stored.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}
                    },
                },
                "400": _error(400, "Invalid input; nothing was stored."),
                "401": _error(401, "No valid write key."),
                "405": _error(405, "Wrong method."),
                "413": _error(413, "Too large; nothing was stored."),
                "415": _error(415, "Unsupported Content-Encoding."),
                "429": _error(429, "Rate limited; nothing was stored."),
                "503": _error(503, "Storage unavailable; nothing was stored."),
            },
        }
    }


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "ReptiDex Success tracking API",
        "version": "1",
        "description": "Compatible with the Segment HTTP tracking API: existing Segment "
        "libraries can send to it by pointing their host at this server. The write key goes "
        "in the body's `writeKey` or as the HTTP Basic user name (empty password); when both "
        "are sent they must be the same key.",
    },
    "paths": {
        "/v1/batch": _operation(
            "Send a batch of calls",
            "Batch",
            MAX_REQUEST_BYTES,
            f"Each event may be at most {MAX_EVENT_BYTES} bytes of JSON.",
        ),
        "/v1/track": _operation("Record an action", "Track", MAX_EVENT_BYTES, "One track call."),
        "/v1/identify": _operation(
            "Create or update a breeder", "Identify", MAX_EVENT_BYTES, "One identify call."
        ),
        "/v1/group": _operation(
            "Record a breeder's business", "Group", MAX_EVENT_BYTES, "One group call."
        ),
        "/v1/page": _operation("Record a page view", "Page", MAX_EVENT_BYTES, "One page call."),
    },
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "writeKeyBasic": {
                "type": "http",
                "scheme": "basic",
                "description": "The write key as the user name and an empty password.",
            }
        },
        "headers": {
            "RetryAfter": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    },
}

OPENAPI_JSON = orjson.dumps(DOCUMENT)
