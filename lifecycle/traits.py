"""Identify traits of the default tracking plan, checked and mapped to Breeder fields.

An invalid trait never rejects the whole identify call: the call is stored, the
trait is left out of the breeder update, and the ingestion response lists it as a
warning that names the trait and the fix.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from accounts.models import Experience, Operation

MAX_NAME_LENGTH = 200
MAX_PLAN_LENGTH = 100
MAX_SPECIES_LENGTH = 100
MAX_EMAIL_LENGTH = 254
# The largest value of Breeder.animal_count's PositiveIntegerField in PostgreSQL.
MAX_ANIMAL_COUNT = 2_147_483_647


@dataclass(frozen=True)
class TraitProblem:
    trait: str
    message: str


class _InvalidTrait(ValueError):
    pass


@functools.cache
def _known_time_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk, so it is read once.
    return frozenset(zoneinfo.available_timezones())


def json_type_name(value: object) -> str:
    """Name a decoded JSON value's type as JSON calls it, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _text(max_length: int) -> Callable[[object], str]:
    def clean(value: object) -> str:
        if not isinstance(value, str):
            raise _InvalidTrait(f"must be a string, not {json_type_name(value)}")
        text = value.strip()
        if len(text) > max_length:
            raise _InvalidTrait(f"is {len(text)} characters long; the maximum is {max_length}")
        return text

    return clean


def _email(value: object) -> str:
    text = _text(MAX_EMAIL_LENGTH)(value)
    if text:
        try:
            validate_email(text)
        except ValidationError:
            raise _InvalidTrait(f"{text!r} is not an email address") from None
    return text


def _species(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _InvalidTrait(f"must be an array of strings, not {json_type_name(value)}")
    species: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise _InvalidTrait(f"must contain only non-empty strings; found {item!r}")
        name = item.strip()
        if len(name) > MAX_SPECIES_LENGTH:
            raise _InvalidTrait(f"has a name longer than {MAX_SPECIES_LENGTH} characters")
        if name not in species:
            species.append(name)
    return species


def _animal_count(value: object) -> int:
    # Numbers often arrive as strings from form fields; whole numbers in either form
    # are accepted.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _InvalidTrait(f"must be a whole number of 0 or more, not {value!r}")
    if value > MAX_ANIMAL_COUNT:
        raise _InvalidTrait(f"is {value}; the maximum is {MAX_ANIMAL_COUNT}")
    return value


def _choice(values: list[str]) -> Callable[[object], str]:
    def clean(value: object) -> str:
        if value not in values:
            raise _InvalidTrait(f"must be one of {', '.join(values)}, not {value!r}")
        return str(value)

    return clean


def _country(value: object) -> str:
    if not isinstance(value, str):
        raise _InvalidTrait(f"must be a string, not {json_type_name(value)}")
    code = value.strip()
    if code and not (len(code) == 2 and code.isascii() and code.isalpha()):
        raise _InvalidTrait(f"must be an ISO 3166-1 alpha-2 code such as DE or US, not {value!r}")
    return code.upper()


def _time_zone(value: object) -> str:
    text = _text(64)(value)
    if text and text not in _known_time_zones():
        raise _InvalidTrait(
            f"{text!r} is not an IANA time zone name; use one such as Europe/Berlin"
        )
    return text


def _created_at(value: object) -> datetime:
    if not isinstance(value, str):
        raise _InvalidTrait(f"must be an ISO 8601 date-time string, not {json_type_name(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _InvalidTrait(
            f"{value!r} is not an ISO 8601 date-time; send one such as 2024-05-01T12:30:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # A future signup time would put the breeder before day 0 of onboarding.
    if parsed > timezone.now():
        raise _InvalidTrait(f"{value!r} is in the future; send the time the breeder signed up")
    return parsed


# Trait name → (Breeder field, cleaner). `timezone` and `createdAt` keep the names the
# Segment spec uses for those traits.
TRAIT_FIELDS: dict[str, tuple[str, Callable[[object], Any]]] = {
    "email": ("email", _email),
    "name": ("name", _text(MAX_NAME_LENGTH)),
    "business_name": ("business_name", _text(MAX_NAME_LENGTH)),
    "species": ("species", _species),
    "animal_count": ("animal_count", _animal_count),
    "operation": ("operation", _choice(list(Operation.values))),
    "experience": ("experience", _choice(list(Experience.values))),
    "country": ("country", _country),
    "timezone": ("time_zone", _time_zone),
    "plan": ("plan", _text(MAX_PLAN_LENGTH)),
    "createdAt": ("signed_up_at", _created_at),
}


def check_group_name(value: object) -> str | None:
    """Describe what is wrong with a group call's `name` trait, or return None."""
    if value is None or (isinstance(value, str) and len(value.strip()) <= MAX_NAME_LENGTH):
        return None
    reason = (
        f"is longer than {MAX_NAME_LENGTH} characters"
        if isinstance(value, str)
        else f"must be a string, not {json_type_name(value)}"
    )
    return f"traits.name {reason}; the breeder's business name was not changed."


def clean_traits(traits: Mapping[str, Any]) -> tuple[dict[str, Any], list[TraitProblem]]:
    """Map known traits to Breeder field values and list the invalid ones.

    A trait sent as null is skipped, so sending null never clears a field; an empty
    string clears a text field. Traits outside the tracking plan stay in the stored
    payload and are ignored here.
    """
    fields: dict[str, Any] = {}
    problems: list[TraitProblem] = []
    for trait, (field, clean) in TRAIT_FIELDS.items():
        value = traits.get(trait)
        if value is None:
            continue
        try:
            fields[field] = clean(value)
        except _InvalidTrait as error:
            problems.append(TraitProblem(trait, f"traits.{trait} {error}; the trait was ignored."))
    if "name" not in fields and "name" not in traits:
        # The Segment spec's firstName and lastName stand in when no name is sent.
        parts = [traits.get("firstName"), traits.get("lastName")]
        full_name = " ".join(part.strip() for part in parts if isinstance(part, str)).strip()
        if full_name:
            fields["name"] = full_name[:MAX_NAME_LENGTH]
    return fields, problems
