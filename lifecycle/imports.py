"""CSV import: one file of one kind into one workspace, whole or not at all.

1. The header is checked against the mapping file (lifecycle.import_mapping).
2. Every row is mapped and checked; each bad row is reported with the file name and
   the line number where the row starts.
3. Only when no row failed are all rows written, in one transaction, together with an
   audit entry and the ImportRun record. Otherwise nothing is written and the
   ImportRun lists the errors.

The `import_csv` management command and the admin upload page both call `import_csv`.
"""

from __future__ import annotations

import csv
import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from accounts.models import User, Workspace
from accounts.scope import workspace_scope
from accounts.services import record_audit
from lifecycle.import_kinds import HANDLERS, ImportContext, KindHandler
from lifecycle.import_mapping import Mapping
from lifecycle.ingestion.messages import InvalidMessage, parse_message
from lifecycle.ingestion.storage import insert_events
from lifecycle.input_fields import FieldError
from lifecycle.models.imports import ImportOrigin, ImportRun, ImportStatus
from lifecycle.tasks import request_processing

logger = logging.getLogger(__name__)

# The ImportRun keeps this many error lines; the count covers all of them.
MAX_STORED_ERRORS = 100
# Past this many bad rows the file is clearly mapped wrong, and reading on only slows
# down the report.
MAX_COLLECTED_ERRORS = 1000


class ImportFileError(ValueError):
    """The file as a whole cannot be read: no header, missing columns, wrong encoding."""


def write_events(workspace: Workspace, rows: list[dict[str, Any]]) -> int:
    """Write usage events to the raw event table and return how many were new.

    Each row is a Segment `track` call: type, messageId, userId, event, timestamp
    (ISO 8601 with offset), properties and context. The rows go through the event
    API's own checks and its durable insert, so they are deduplicated on (workspace,
    messageId) exactly as live events are, and they are folded into breeders and
    rollups by the same processing task once the import commits.
    """
    received_at = timezone.now()
    parsed = []
    for index, row in enumerate(rows):
        try:
            parsed.append(
                parse_message(
                    dict(row),
                    endpoint_type="track",
                    batch_sent_at=None,
                    batch_context=None,
                    received_at=received_at,
                    warnings=[],
                )
            )
        except InvalidMessage as error:
            raise ValueError(f"event row {index + 1}: {error.message}") from None
    inserted = insert_events(workspace.pk, parsed, received_at)
    transaction.on_commit(lambda: request_processing(workspace.pk))
    return inserted


class _DryRunRollback(Exception):
    """Raised inside the transaction of a dry run to undo its writes."""


@dataclass
class ImportResult:
    run: ImportRun
    errors: list[str]

    @property
    def ok(self) -> bool:
        return self.run.status != ImportStatus.FAILED


ProgressCallback = Callable[[int], None]


def _read_records(
    handler: KindHandler,
    ctx: ImportContext,
    stream: TextIO,
    file_name: str,
    run: ImportRun,
    errors: list[str],
    progress: ProgressCallback | None,
) -> list[Any]:
    """Map and check every row; returns the records and appends errors to `errors`."""
    mapping = ctx.mapping
    reader = csv.reader(stream, delimiter=mapping.delimiter, strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise ImportFileError("the file is empty; it needs a header line") from None
    repeated_names = sorted({name for name in header if header.count(name) > 1})
    if repeated_names:
        raise ImportFileError(f"line 1: the header repeats the column {repeated_names[0]!r}")
    needed = [rule.column for rule in mapping.columns] + sorted(mapping.template_columns())
    missing = [column for column in dict.fromkeys(needed) if column not in header]
    if missing:
        raise ImportFileError(
            f"line 1: the mapping {mapping.name} needs the column(s) {', '.join(missing)}, "
            f"but the header has {', '.join(header)}; fix the mapping's [columns]"
        )

    records: dict[str, Any] = {}
    while len(errors) < MAX_COLLECTED_ERRORS:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            # The parser cannot find the next row after a broken one, so reading stops.
            errors.append(f"{file_name} line {line}: {error}; fix the quoting of this row")
            break
        if not any(cell.strip() for cell in cells):
            continue
        run.row_count += 1
        if progress:
            progress(1)
        if len(cells) != len(header):
            errors.append(
                f"{file_name} line {line}: the row has {len(cells)} fields but the header "
                f"has {len(header)}; check for a missing or extra delimiter"
            )
            continue
        fields = mapping.map_row(dict(zip(header, cells, strict=True)))
        try:
            record = handler.validate(fields, ctx)
        except FieldError as error:
            errors.append(f"{file_name} line {line}: {error.field}: {error.message}")
            continue
        key = handler.key(record)
        if key in records:
            run.repeated_count += 1
            if handler.keep_first_duplicate:
                continue
        records[key] = record
    return list(records.values())


def import_csv(
    workspace: Workspace,
    *,
    mapping: Mapping,
    stream: TextIO,
    file_name: str,
    kind: str | None = None,
    actor: User | None = None,
    origin: str = ImportOrigin.COMMAND,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import one CSV file; the returned ImportRun records what happened.

    `kind`, when given, must match the mapping's kind, which guards against pairing a
    file with the wrong mapping.
    """
    if kind is not None and kind != mapping.kind:
        raise ImportFileError(
            f"the mapping {mapping.name} is for {mapping.kind}, not {kind}; pick the "
            "mapping file made for this export"
        )
    run = ImportRun(
        workspace=workspace,
        kind=mapping.kind,
        file_name=file_name[:255],
        mapping_name=mapping.name[:255],
        origin=origin,
        actor=actor,
        status=ImportStatus.FAILED,
    )
    errors: list[str] = []
    handler = HANDLERS[mapping.kind]()
    ctx = ImportContext(
        workspace=workspace,
        mapping=mapping,
        time_zone=zoneinfo.ZoneInfo(mapping.time_zone or workspace.time_zone),
        event_writer=write_events,
        dry_run=dry_run,
    )
    logger.info(
        "Import of %s (%s) into workspace %s started", file_name, mapping.kind, workspace.pk
    )
    with workspace_scope(workspace):
        handler.prepare(ctx)
        try:
            records = _read_records(handler, ctx, stream, file_name, run, errors, progress)
        except ImportFileError as error:
            errors.append(f"{file_name} {error}")
        except UnicodeDecodeError as error:
            errors.append(
                f"{file_name}: the file is not valid {mapping.encoding} ({error.reason} at "
                f"byte {error.start}); save it as UTF-8 or set `encoding` in the mapping"
            )
        if not errors:
            _write(handler, ctx, records, run, errors, dry_run=dry_run)
        run.error_count = len(errors)
        run.errors = errors[:MAX_STORED_ERRORS]
        run.finished_at = timezone.now()
        if run.status != ImportStatus.SUCCEEDED:
            # A successful run was saved with its rows; any other is saved on its own.
            run.save()
    logger.info(
        "Import of %s into workspace %s %s: %s rows, %s created, %s updated, %s errors",
        file_name,
        workspace.pk,
        run.status,
        run.row_count,
        run.created_count,
        run.updated_count,
        run.error_count,
    )
    return ImportResult(run=run, errors=errors)


def _write(
    handler: KindHandler,
    ctx: ImportContext,
    records: list[Any],
    run: ImportRun,
    errors: list[str],
    *,
    dry_run: bool,
) -> None:
    try:
        with transaction.atomic():
            run.created_count, run.updated_count = handler.write(records, ctx)
            if dry_run:
                raise _DryRunRollback
            run.status = ImportStatus.SUCCEEDED
            run.finished_at = timezone.now()
            run.save()
            record_audit(
                ctx.workspace,
                actor=run.actor,
                action="import.completed",
                target=run,
                kind=run.kind,
                file_name=run.file_name,
                created=run.created_count,
                updated=run.updated_count,
            )
    except _DryRunRollback:
        run.status = ImportStatus.DRY_RUN
    except (IntegrityError, DataError) as error:
        run.status = ImportStatus.FAILED
        errors.append(
            f"{run.file_name}: the database rejected the rows ({error}); nothing was imported"
        )
