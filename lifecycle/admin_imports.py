"""Admin pages for CSV imports: the upload form, and the record of past imports."""

from __future__ import annotations

import io
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.admin_site import WorkspaceScopedAdmin
from accounts.models import User, Workspace
from accounts.scope import active_workspace_id
from lifecycle.import_mapping import Mapping, MappingError, load_mapping
from lifecycle.imports import ImportFileError, import_csv
from lifecycle.models.imports import ImportKind, ImportOrigin, ImportRun, ImportStatus

# Uploads are imported within the request; larger files belong to the import_csv command.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(choices=ImportKind.choices, help_text="What the CSV file holds.")
    mapping_file = forms.FileField(
        help_text="The mapping file (TOML, or JSON with a .json name) for this export."
    )
    csv_file = forms.FileField(label="CSV file")
    dry_run = forms.BooleanField(
        required=False, help_text="Check every row and count the changes, but keep nothing."
    )

    def __init__(self, *args: Any, choose_workspace: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if choose_workspace:
            # Platform operators work across workspaces, so they name the target.
            self.fields["workspace"] = forms.ModelChoiceField(
                queryset=Workspace.objects.order_by("name")
            )

    def clean_mapping_file(self) -> Mapping:
        upload = self.cleaned_data["mapping_file"]
        try:
            return load_mapping(upload.read(), name=upload.name)
        except (MappingError, UnicodeDecodeError) as error:
            raise forms.ValidationError(f"{upload.name}: {error}") from None

    def clean_csv_file(self) -> Any:
        upload = self.cleaned_data["csv_file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size // (1024 * 1024)} MB; the upload limit is "
                f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Use the import_csv command instead."
            )
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        mapping = cleaned.get("mapping_file")
        if isinstance(mapping, Mapping) and cleaned.get("kind") not in (None, mapping.kind):
            self.add_error(
                "mapping_file",
                f"This mapping is for {mapping.kind}, but the kind chosen is {cleaned['kind']}.",
            )
        return cleaned


@admin.register(ImportRun)
class ImportRunAdmin(WorkspaceScopedAdmin):
    """Past imports (read-only); "Add" opens the upload form that runs a new one."""

    list_display = [
        "started_at",
        "kind",
        "file_name",
        "status",
        "row_count",
        "created_count",
        "updated_count",
        "error_count",
        "actor",
    ]
    list_filter = ["kind", "status", "origin"]
    list_select_related = ["actor"]
    readonly_fields = [
        "kind",
        "file_name",
        "mapping_name",
        "origin",
        "actor",
        "status",
        "row_count",
        "created_count",
        "updated_count",
        "repeated_count",
        "error_count",
        "error_lines",
        "started_at",
        "finished_at",
    ]
    fields = tuple(readonly_fields)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Errors")
    def error_lines(self, obj: ImportRun) -> str:
        if not obj.errors:
            return "None"
        shown = format_html_join("", "<li>{}</li>", ((line,) for line in obj.errors))
        hidden = obj.error_count - len(obj.errors)
        more = format_html("<li>… and {} more</li>", hidden) if hidden > 0 else ""
        return format_html("<ul>{}{}</ul>", shown, more)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        workspace_id = active_workspace_id()
        choose_workspace = workspace_id is None
        if request.method == "POST":
            form = ImportUploadForm(request.POST, request.FILES, choose_workspace=choose_workspace)
            if form.is_valid():
                workspace = (
                    Workspace.objects.get(pk=workspace_id)
                    if workspace_id is not None
                    else form.cleaned_data["workspace"]
                )
                response = self._run_import(request, form, workspace)
                if response is not None:
                    return response
        else:
            form = ImportUploadForm(choose_workspace=choose_workspace)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a CSV file",
            "form": form,
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/lifecycle/importrun/upload.html", context)

    def _run_import(
        self, request: HttpRequest, form: ImportUploadForm, workspace: Workspace
    ) -> HttpResponse | None:
        mapping: Mapping = form.cleaned_data["mapping_file"]
        upload = form.cleaned_data["csv_file"]
        upload.seek(0)
        stream = io.TextIOWrapper(upload.file, encoding=mapping.encoding, newline="")
        try:
            result = import_csv(
                workspace,
                mapping=mapping,
                stream=stream,
                file_name=upload.name,
                kind=form.cleaned_data["kind"],
                actor=cast(User, request.user),
                origin=ImportOrigin.ADMIN,
                dry_run=form.cleaned_data["dry_run"],
            )
        except ImportFileError as error:
            form.add_error("csv_file", str(error))
            return None
        finally:
            # The wrapper would close the upload's file when collected; detach keeps it
            # for Django, which removes temporary uploads itself.
            stream.detach()
        run = result.run
        if run.status == ImportStatus.FAILED:
            messages.error(
                request,
                f"Nothing was imported: {run.error_count} error(s) in {run.row_count} rows. "
                "Fix them and upload the file again.",
            )
        elif run.status == ImportStatus.DRY_RUN:
            messages.info(
                request,
                f"Dry run: {run.row_count} rows are valid ({run.created_count} would be "
                f"created, {run.updated_count} updated); nothing was kept.",
            )
        else:
            messages.success(
                request,
                f"Imported {run.row_count} rows: {run.created_count} created, "
                f"{run.updated_count} updated.",
            )
        return redirect(reverse("admin:lifecycle_importrun_change", args=[run.pk]))
