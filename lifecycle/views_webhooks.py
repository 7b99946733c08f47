"""Webhook endpoints that outside systems call: Stripe events and support tickets.

Both respond with JSON. Errors are `{"code": ..., "message": ...}`, where the message names
the field at fault and how to fix it; a 2xx goes out only after the data is committed.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import Workspace
from accounts.scope import workspace_scope
from accounts.services import find_workspace_by_write_key
from lifecycle import billing
from lifecycle.input_fields import FieldError
from lifecycle.models.billing import RecordSource
from lifecycle.models.tickets import Ticket
from lifecycle.tickets import BreederLookup, TicketValues, build_ticket_values, write_tickets

logger = logging.getLogger(__name__)

MAX_TICKETS_PER_REQUEST = 100


def json_error(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=status)


def _read_body(request: HttpRequest) -> bytes:
    """Return the raw body; Django raises RequestDataTooBig past DATA_UPLOAD_MAX_MEMORY_SIZE."""
    return request.body


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest, workspace_public_id: uuid.UUID) -> JsonResponse:
    endpoint = billing.find_endpoint(workspace_public_id)
    if endpoint is None:
        return json_error(
            404,
            "endpoint_not_found",
            "No Stripe endpoint has this URL; copy the endpoint URL from the workspace's "
            "configuration admin.",
        )
    try:
        payload = _read_body(request)
    except RequestDataTooBig:
        return json_error(413, "body_too_large", "The body is larger than this server accepts.")
    try:
        billing.verify_signature(endpoint, payload, request.headers.get("Stripe-Signature"))
        event = billing.parse_event(payload)
        stored = billing.store_event(endpoint, event)
    except billing.StripeWebhookError as error:
        logger.warning(
            "Rejected a Stripe delivery for workspace %s: %s", endpoint.workspace_id, error.code
        )
        return json_error(error.status, error.code, error.message)
    return JsonResponse({"received": True, "id": stored.stripe_id, "duplicate": stored.duplicate})


# Tickets -------------------------------------------------------------------------


class WriteKeyError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def workspace_from_write_key(request: HttpRequest) -> Workspace:
    """Find the workspace whose write key the request carries, as Bearer or Basic user name."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    raw_key = ""
    if scheme.lower() == "bearer":
        raw_key = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise WriteKeyError(
                "invalid_authorization", "The Basic credentials are not valid base64."
            ) from None
        raw_key = decoded.partition(":")[0]
    if not raw_key:
        raise WriteKeyError(
            "missing_write_key",
            "Send the workspace's write key as 'Authorization: Bearer <key>', or as the "
            "user name of HTTP Basic authentication.",
        )
    workspace = find_workspace_by_write_key(raw_key)
    if workspace is None:
        raise WriteKeyError(
            "invalid_write_key",
            "This write key is unknown or revoked; issue a new one in the configuration admin.",
        )
    return workspace


def _ticket_items(body: Any) -> tuple[list[Any], str]:
    """Return the tickets in a body and the field path prefix used in error messages."""
    if isinstance(body, dict) and "tickets" in body:
        tickets = body["tickets"]
        if not isinstance(tickets, list) or not tickets:
            raise FieldError("tickets", "must be a non-empty list of ticket objects.")
        if len(tickets) > MAX_TICKETS_PER_REQUEST:
            raise FieldError(
                "tickets",
                f"has {len(tickets)} tickets; send at most {MAX_TICKETS_PER_REQUEST} per request.",
            )
        return tickets, "tickets"
    if isinstance(body, dict):
        return [body], ""
    raise FieldError("body", "must be a ticket object, or an object with a `tickets` list.")


@csrf_exempt
@require_POST
def ticket_webhook(request: HttpRequest) -> JsonResponse:
    try:
        workspace = workspace_from_write_key(request)
    except WriteKeyError as error:
        response = json_error(401, error.code, error.message)
        response["WWW-Authenticate"] = 'Bearer realm="tickets"'
        return response
    try:
        body = json.loads(_read_body(request))
    except RequestDataTooBig:
        return json_error(413, "body_too_large", "The body is larger than this server accepts.")
    except ValueError:
        return json_error(400, "invalid_json", "The body is not valid JSON.")

    with workspace_scope(workspace):
        lookup = BreederLookup()
        rows: list[tuple[TicketValues, int]] = []
        try:
            items, prefix = _ticket_items(body)
            for index, item in enumerate(items):
                path = f"{prefix}[{index}]." if prefix else ""
                if not isinstance(item, dict):
                    raise FieldError(f"{prefix}[{index}]", "must be a ticket object.")
                try:
                    values = build_ticket_values(item, workspace=workspace)
                    breeder_id = lookup.find(
                        external_id=values.breeder_external_id, email=values.breeder_email
                    )
                except FieldError as error:
                    raise FieldError(path + error.field, error.message) from None
                rows.append((values, breeder_id))
        except FieldError as error:
            return json_error(
                400, "invalid_ticket", f"{error.field}: {error.message}", field=error.field
            )
        with transaction.atomic():
            result = write_tickets(workspace, rows, source=RecordSource.WEBHOOK)
        tickets = Ticket.objects.filter(external_id__in=result.external_ids).order_by("external_id")
        written = [
            {
                "external_id": ticket.external_id,
                "id": str(ticket.public_id),
                "escalation_path": ticket.escalation_path,
                "escalated_to": ticket.escalated_to,
            }
            for ticket in tickets
        ]
    return JsonResponse(
        {
            "received": len(rows),
            "created": result.created,
            "updated": result.updated,
            "tickets": written,
        }
    )
