"""Parsers for fields that arrive from outside: JSON webhook bodies and CSV cells.

Each parser takes the raw value (text from a CSV cell, or a JSON value) and returns the
typed value, or raises FieldError with a message that names the field and the fix.
Empty text and JSON null both mean "not given".
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})


class FieldError(ValueError):
    """A field's value is missing or invalid."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def parse_text(field: str, value: Any, *, required: bool = False, max_length: int = 300) -> str:
    if is_blank(value):
        if required:
            raise FieldError(field, "is missing; give a non-empty value.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldError(field, f"{value!r} is not text; send a string.")
    text = str(value).strip()
    if len(text) > max_length:
        raise FieldError(field, f"is {len(text)} characters long; the maximum is {max_length}.")
    return text


def parse_email(field: str, value: Any) -> str:
    text = parse_text(field, value, max_length=254)
    if not text:
        return ""
    try:
        validate_email(text)
    except ValidationError:
        raise FieldError(field, f"{text!r} is not a valid email address.") from None
    return text


def parse_choice(
    field: str, value: Any, choices: Sequence[str], *, required: bool = False, default: str = ""
) -> str:
    """Return one of `choices`; case, spaces and hyphens in the input are forgiven."""
    text = parse_text(field, value)
    if not text:
        if required and not default:
            raise FieldError(field, f"is missing; use one of {', '.join(choices)}.")
        return default
    normalised = text.lower().replace("-", "_").replace(" ", "_")
    if normalised not in choices:
        raise FieldError(field, f"{text!r} is not valid; use one of {', '.join(choices)}.")
    return normalised


def parse_int(
    field: str,
    value: Any,
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """Parse a whole number; "4.0" is accepted as 4, because spreadsheets write integers so."""
    if is_blank(value):
        if required:
            raise FieldError(field, "is missing; give a whole number.")
        return None
    if isinstance(value, bool):
        raise FieldError(field, f"{value!r} is not a whole number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldError(field, f"{value!r} is not a whole number.") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise FieldError(field, f"{value!r} is not a whole number.")
    result = int(number)
    if (minimum is not None and result < minimum) or (maximum is not None and result > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise FieldError(field, f"{result} is out of range; use a whole number {bounds}.")
    return result


def parse_decimal(field: str, value: Any, *, required: bool = False) -> Decimal | None:
    if is_blank(value):
        if required:
            raise FieldError(field, "is missing; give an amount such as 49.99.")
        return None
    if isinstance(value, bool):
        raise FieldError(field, f"{value!r} is not an amount.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldError(field, f"{value!r} is not an amount; write it like 49.99.") from None
    if not number.is_finite():
        raise FieldError(field, f"{value!r} is not an amount; write it like 49.99.")
    return number


def parse_bool(field: str, value: Any, *, default: bool = False) -> bool:
    if is_blank(value):
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise FieldError(field, f"{value!r} is not true or false; use true/false, yes/no or 1/0.")


def parse_iso_datetime(field: str, value: Any, *, required: bool = False) -> datetime | None:
    """Parse an ISO 8601 date-time with a UTC offset, as JSON APIs send them."""
    if is_blank(value):
        if required:
            raise FieldError(
                field, "is missing; give an ISO 8601 time such as 2026-03-01T09:30:00Z."
            )
        return None
    if not isinstance(value, str):
        raise FieldError(field, f"{value!r} is not a time; send an ISO 8601 string.")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(
            field, f"{value!r} is not an ISO 8601 time; write it like 2026-03-01T09:30:00Z."
        ) from None
    if moment.tzinfo is None:
        raise FieldError(field, f"{value!r} has no UTC offset; add Z or an offset such as +02:00.")
    return moment


def parse_formatted_datetime(
    field: str,
    value: Any,
    *,
    formats: Iterable[str],
    time_zone: zoneinfo.ZoneInfo,
    required: bool = False,
) -> datetime | None:
    """Parse a CSV cell with the first matching strptime format.

    A value without an offset is a wall-clock time in `time_zone`; a date alone is the
    start of that day there. The ISO 8601 form is always tried last.
    """
    if is_blank(value):
        if required:
            raise FieldError(field, "is missing; give a date or date-time.")
        return None
    text = str(value).strip()
    format_list = list(formats)
    for date_format in format_list:
        try:
            moment = datetime.strptime(text, date_format)  # noqa: DTZ007 (zone added below)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=time_zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        shown = ", ".join(format_list) or "ISO 8601"
        raise FieldError(
            field,
            f"{text!r} does not match the date format ({shown}); fix the value or set the "
            "column's format in the mapping file.",
        ) from None
    if isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=time_zone)
    return moment


def start_of_day(day: date, time_zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=time_zone)
