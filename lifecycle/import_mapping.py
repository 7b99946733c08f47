"""Mapping files: how the columns of another tool's CSV export become our fields.

A mapping file is TOML (or JSON, for a name ending in .json) with these keys:

- `kind`: what the file holds: breeders, subscriptions, tickets, cancellations or events;
- `columns`: CSV column → field name, or → a table with `field`, and optionally
  `values` (a value map applied to the cell, e.g. {medium = "normal"}), `format` (a
  strptime format for a date column) and, for event properties, `type` (text,
  integer, number or boolean);
- `constants`: field → value used when no column gives the field a value;
- `templates`: field → Python format string over the row's columns, e.g.
  "Ticket {ticket_id}";
- `date_formats`: strptime formats tried for every date column without its own format;
- `time_zone`: the IANA zone of date-times without an offset (default: the workspace's);
- `delimiter` (default ",") and `encoding` (default "utf-8-sig").

docs/imports.md lists the fields of each kind.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import string
import tomllib
import zoneinfo
from dataclasses import dataclass
from typing import Any

from lifecycle.tickets import TICKET_FIELDS

KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "breeders": (
        "external_id",
        "email",
        "name",
        "business_name",
        "country",
        "time_zone",
        "signed_up_at",
        "plan",
        "species",
        "animal_count",
        "operation",
        "experience",
    ),
    "subscriptions": (
        "external_id",
        "breeder_external_id",
        "breeder_email",
        "customer_id",
        "status",
        "plan",
        "mrr",
        "mrr_minor",
        "price",
        "price_minor",
        "currency",
        "interval",
        "interval_count",
        "quantity",
        "started_at",
        "current_period_end",
        "trial",
        "trial_end",
        "ended_at",
        "canceled_at",
        "cancel_at_period_end",
        "cancellation_reason",
        "upgraded",
        "downgraded",
    ),
    "tickets": TICKET_FIELDS,
    "cancellations": (
        "external_id",
        "breeder_external_id",
        "breeder_email",
        "subscription_external_id",
        "canceled_at",
        "reason",
        "feedback",
        "comment",
        "refund",
        "refund_minor",
        "currency",
        "preceded_by_upgrade",
        "preceded_by_downgrade",
        "is_reactivation",
    ),
    "events": (
        "message_id",
        "breeder_external_id",
        "breeder_email",
        "subscription_external_id",
        "event",
        "timestamp",
    ),
}
# Event rows may also carry any number of `properties.<name>` fields.
PROPERTY_PREFIX = "properties."
PROPERTY_TYPES = ("text", "integer", "number", "boolean")
DATE_FIELDS = frozenset(
    {
        "signed_up_at",
        "started_at",
        "current_period_end",
        "trial_end",
        "ended_at",
        "canceled_at",
        "opened_at",
        "first_responded_at",
        "solved_at",
        "timestamp",
    }
)
TOP_LEVEL_KEYS = frozenset(
    {
        "kind",
        "description",
        "columns",
        "constants",
        "templates",
        "date_formats",
        "time_zone",
        "delimiter",
        "encoding",
    }
)


class MappingError(ValueError):
    """The mapping file is invalid; the message names the key and the fix."""


@dataclass(frozen=True)
class ColumnRule:
    column: str
    field: str
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    date_format: str | None = None
    value_type: str = "text"


@dataclass(frozen=True)
class Mapping:
    name: str
    kind: str
    columns: tuple[ColumnRule, ...]
    constants: dict[str, str]
    templates: dict[str, str]
    date_formats: tuple[str, ...]
    time_zone: str | None
    delimiter: str
    encoding: str

    @property
    def fields(self) -> frozenset[str]:
        """Return every field this mapping can fill."""
        return frozenset(
            {rule.field for rule in self.columns} | set(self.constants) | set(self.templates)
        )

    def formats_for(self, field_name: str) -> list[str]:
        own = [
            rule.date_format
            for rule in self.columns
            if rule.field == field_name and rule.date_format
        ]
        return [*own, *self.date_formats]

    def template_columns(self) -> set[str]:
        """Return the CSV columns the templates refer to."""
        names = set()
        for template in self.templates.values():
            for _, column, _, _ in string.Formatter().parse(template):
                if column:
                    names.add(column)
        return names

    def map_row(self, row: dict[str, str]) -> dict[str, str]:
        """Turn one CSV row (column → cell) into fields (field → text)."""
        fields = dict(self.constants)
        for rule in self.columns:
            raw = row.get(rule.column, "").strip()
            value = rule.values.get(raw, raw)
            # An empty cell leaves a constant in place, so constants act as defaults.
            if value != "" or rule.field not in fields:
                fields[rule.field] = value
        for field_name, template in self.templates.items():
            fields[field_name] = template.format_map(row).strip()
        return fields


def _is_known_field(kind: str, name: str) -> bool:
    if kind == "events" and name.startswith(PROPERTY_PREFIX) and len(name) > len(PROPERTY_PREFIX):
        return True
    return name in KIND_FIELDS[kind]


def _check_field(kind: str, name: Any, where: str) -> str:
    if not isinstance(name, str) or not _is_known_field(kind, name):
        extra = " or properties.<name>" if kind == "events" else ""
        raise MappingError(
            f"{where}: {name!r} is not a field of {kind}; use one of "
            f"{', '.join(KIND_FIELDS[kind])}{extra}."
        )
    return name


def _string_table(data: Any, where: str) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MappingError(f"{where} must be a table of names to values.")
    table = {}
    for key, value in data.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int | float):
            raise MappingError(f"{where}.{key} must be text or a number, not {value!r}.")
        table[str(key)] = str(value)
    return table


def _column_rule(kind: str, column: str, spec: Any) -> ColumnRule:
    where = f"columns.{column}"
    if isinstance(spec, str):
        return ColumnRule(column=column, field=_check_field(kind, spec, where))
    if not isinstance(spec, dict):
        raise MappingError(f"{where} must be a field name or a table with `field`.")
    unknown = sorted(set(spec) - {"field", "values", "format", "type"})
    if unknown:
        raise MappingError(f"{where}: unknown key {unknown[0]!r}; use field, values, format, type.")
    field_name = _check_field(kind, spec.get("field"), f"{where}.field")
    date_format = spec.get("format")
    if date_format is not None and not isinstance(date_format, str):
        raise MappingError(f'{where}.format must be a strptime format such as "%Y-%m-%d".')
    value_type = spec.get("type", "text")
    if value_type not in PROPERTY_TYPES:
        raise MappingError(f"{where}.type must be one of {', '.join(PROPERTY_TYPES)}.")
    return ColumnRule(
        column=column,
        field=field_name,
        values=_string_table(spec.get("values"), f"{where}.values"),
        date_format=date_format,
        value_type=value_type,
    )


def parse_mapping(data: dict[str, Any], *, name: str) -> Mapping:
    """Check a decoded mapping document and return it as a Mapping."""
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise MappingError(f"unknown key {unknown[0]!r}; use {', '.join(sorted(TOP_LEVEL_KEYS))}.")
    kind = data.get("kind")
    if kind not in KIND_FIELDS:
        raise MappingError(f"kind must be one of {', '.join(KIND_FIELDS)}, not {kind!r}.")

    columns_data = data.get("columns")
    if not isinstance(columns_data, dict) or not columns_data:
        raise MappingError("columns must be a table of CSV column names to fields.")
    columns = tuple(_column_rule(kind, str(column), spec) for column, spec in columns_data.items())

    constants = _string_table(data.get("constants"), "constants")
    templates = _string_table(data.get("templates"), "templates")
    for key in [*constants, *templates]:
        _check_field(kind, key, "constants/templates")
    for key, template in templates.items():
        try:
            list(string.Formatter().parse(template))
        except ValueError as error:
            raise MappingError(f"templates.{key}: {error}; write columns as {{column}}.") from None

    date_formats = data.get("date_formats", [])
    if not isinstance(date_formats, list) or not all(
        isinstance(item, str) for item in date_formats
    ):
        raise MappingError('date_formats must be a list of strptime formats, e.g. ["%Y-%m-%d"].')
    time_zone = data.get("time_zone")
    if time_zone is not None and (
        not isinstance(time_zone, str) or time_zone not in zoneinfo.available_timezones()
    ):
        raise MappingError(f"time_zone {time_zone!r} is not an IANA time zone such as UTC.")

    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise MappingError("delimiter must be a single character.")
    encoding = data.get("encoding", "utf-8-sig")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise MappingError(
            f"encoding {encoding!r} is not a Python codec name such as utf-8 or cp1252."
        ) from None

    return Mapping(
        name=name,
        kind=kind,
        columns=columns,
        constants=constants,
        templates=templates,
        date_formats=tuple(date_formats),
        time_zone=time_zone,
        delimiter=delimiter,
        encoding=encoding,
    )


def load_mapping(content: bytes | str, *, name: str) -> Mapping:
    """Decode a mapping file (JSON when the name ends in .json, TOML otherwise)."""
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
        data = json.loads(text) if name.lower().endswith(".json") else tomllib.loads(text)
    except ValueError as error:
        # UnicodeDecodeError, JSONDecodeError and TOMLDecodeError are all ValueErrors.
        raise MappingError(
            f"{name} is not valid {'JSON' if name.endswith('.json') else 'TOML'}: {error}"
        ) from None
    if not isinstance(data, dict):
        raise MappingError(f"{name} must hold a table at the top level.")
    return parse_mapping(data, name=name)
