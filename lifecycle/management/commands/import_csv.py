"""Import another tool's CSV export into a workspace, mapped by a mapping file."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import Workspace
from lifecycle.import_mapping import MappingError, load_mapping
from lifecycle.imports import ImportFileError, import_csv
from lifecycle.models.imports import ImportKind, ImportOrigin, ImportStatus

# Errors printed on the terminal; the ImportRun in the admin keeps the first 100.
MAX_PRINTED_ERRORS = 50


def count_data_lines(path: Path, encoding: str) -> int:
    """Return the number of lines after the header, as the progress bar's total."""
    with path.open(encoding=encoding, errors="replace", newline="") as stream:
        return max(sum(1 for _ in stream) - 1, 0)


class Command(BaseCommand):
    help = (
        "Import a CSV file of breeders, subscriptions, tickets, cancellations or events "
        "into a workspace. Every row is imported, or none: one bad row rejects the file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="Slug of the workspace.")
        parser.add_argument(
            "--kind", required=True, choices=ImportKind.values, help="Kind of records in the file."
        )
        parser.add_argument(
            "--mapping", required=True, type=Path, help="The mapping file (TOML or JSON)."
        )
        parser.add_argument("csv_file", type=Path, help="The CSV file to import.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check every row and count the changes, then roll them back.",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not draw the progress bar."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(
                f"No workspace has the slug {options['workspace']!r}; list_workspaces shows them."
            )
        mapping_path: Path = options["mapping"]
        csv_path: Path = options["csv_file"]
        for path in (mapping_path, csv_path):
            if not path.is_file():
                raise CommandError(f"{path} does not exist or is not a file.")
        try:
            mapping = load_mapping(mapping_path.read_bytes(), name=mapping_path.name)
        except MappingError as error:
            raise CommandError(f"{mapping_path}: {error}") from None

        started = time.monotonic()
        total = count_data_lines(csv_path, mapping.encoding)
        # disable=None draws the bar only on a terminal, so logs and tests stay clean.
        disable = True if options["no_progress"] else None
        with (
            csv_path.open(encoding=mapping.encoding, newline="") as stream,
            tqdm(total=total, unit=" rows", file=sys.stderr, disable=disable) as bar,
        ):
            try:
                result = import_csv(
                    workspace,
                    mapping=mapping,
                    stream=stream,
                    file_name=csv_path.name,
                    kind=options["kind"],
                    origin=ImportOrigin.COMMAND,
                    dry_run=options["dry_run"],
                    progress=bar.update,
                )
            except ImportFileError as error:
                raise CommandError(f"{csv_path.name}: {error}") from None
        elapsed = time.monotonic() - started

        run = result.run
        for line in result.errors[:MAX_PRINTED_ERRORS]:
            self.stderr.write(line)
        if len(result.errors) > MAX_PRINTED_ERRORS:
            self.stderr.write(f"… and {len(result.errors) - MAX_PRINTED_ERRORS} more errors.")
        if run.status == ImportStatus.FAILED:
            raise CommandError(
                f"Nothing was imported from {csv_path.name}: {run.error_count} error(s) in "
                f"{run.row_count} rows ({elapsed:.1f} s)."
            )
        dry_run = run.status == ImportStatus.DRY_RUN
        verb = "Checked (dry run, nothing kept)" if dry_run else "Imported"
        outcome = "would be " if dry_run else ""
        self.stdout.write(
            f"{verb} {run.row_count} rows of {run.kind} from {csv_path.name} into "
            f"{workspace.slug} in {elapsed:.1f} s: {run.created_count} {outcome}created, "
            f"{run.updated_count} {outcome}updated, {run.repeated_count} repeated ids "
            f"({'first' if run.kind == ImportKind.EVENTS else 'last'} row kept)."
        )
