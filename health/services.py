"""Health-model versions: the default model, drafts and activation."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User, Workspace
from accounts.services import record_audit
from health.measures import DEFAULT_MEASURES, MEASURES_BY_KEY
from health.models import Category, HealthMeasure, HealthModel, ModelStatus

DECREASING_MEASURES = {"support_interactions"}


def _next_version(workspace_id: int) -> int:
    latest = HealthModel.unscoped_objects.filter(workspace_id=workspace_id).aggregate(
        latest=Max("version")
    )["latest"]
    return (latest or 0) + 1


@transaction.atomic
def create_default_model(
    workspace_id: int, *, status: str = ModelStatus.ACTIVE, actor: User | None = None
) -> HealthModel:
    model = HealthModel.unscoped_objects.create(
        workspace_id=workspace_id,
        version=_next_version(workspace_id),
        status=status,
        activated_at=timezone.now() if status == ModelStatus.ACTIVE else None,
        created_by=actor,
    )
    HealthMeasure.unscoped_objects.bulk_create(
        [
            HealthMeasure(
                workspace_id=workspace_id,
                model=model,
                key=spec.key,
                category=spec.category,
                weight=spec.weight,
                window_days=spec.window_days,
                freshness_days=spec.freshness_days,
                curve=spec.curve,
                phase_curves=spec.phase_curves or {},
            )
            for spec in DEFAULT_MEASURES
        ]
    )
    return model


def ensure_active_model(workspace_id: int) -> HealthModel:
    """Return the workspace's active model, creating the default one on first use."""
    model = HealthModel.unscoped_objects.filter(
        workspace_id=workspace_id, status=ModelStatus.ACTIVE
    ).first()
    return model or create_default_model(workspace_id)


@transaction.atomic
def clone_as_draft(model: HealthModel, *, actor: User | None) -> HealthModel:
    """Copy a model and its measures into a new draft version that can be edited."""
    measures = list(model.measures.all())
    draft = HealthModel.unscoped_objects.get(pk=model.pk)
    draft.pk = None
    draft.version = _next_version(model.workspace_id)
    draft.status = ModelStatus.DRAFT
    draft.activated_at = None
    draft.created_by = actor
    draft.notes = f"Copied from version {model.version}."
    draft.save()
    for measure in measures:
        measure.pk = None
        measure.model = draft
    HealthMeasure.unscoped_objects.bulk_create(measures)
    return draft


def validate_model(model: HealthModel) -> None:
    """Raise a ValidationError listing every problem that blocks activation."""
    problems: list[str] = []
    try:
        model.clean()
    except ValidationError as error:
        problems.extend(error.messages)
    measures = list(model.measures.all())
    for category in Category.values:
        total = sum(m.weight for m in measures if m.category == category)
        members = [m for m in measures if m.category == category]
        if members and total != 100:
            problems.append(f"The {category} measures' weights add up to {total}, not 100.")
    for measure in measures:
        if measure.key not in MEASURES_BY_KEY:
            problems.append(f"{measure.key!r} is not a known measure.")
            continue
        curves = [measure.curve, *measure.phase_curves.values()]
        for curve in curves:
            scores = [point[1] for point in curve]
            decreasing = measure.key in DECREASING_MEASURES
            ordered = scores == sorted(scores, reverse=decreasing)
            if not ordered:
                direction = "fall" if decreasing else "rise"
                problems.append(
                    f"The {measure.key} curve must {direction} as the raw value grows: {curve}."
                )
    if problems:
        raise ValidationError(problems)


@transaction.atomic
def activate_model(model: HealthModel, *, actor: User | None) -> HealthModel:
    """Make a draft the active model; the previous active one is retired."""
    if model.status != ModelStatus.DRAFT:
        raise ValidationError("Only a draft can be activated; copy this version first.")
    validate_model(model)
    HealthModel.unscoped_objects.filter(
        workspace_id=model.workspace_id, status=ModelStatus.ACTIVE
    ).update(status=ModelStatus.RETIRED)
    model.status = ModelStatus.ACTIVE
    model.activated_at = timezone.now()
    model.save(update_fields=["status", "activated_at"])
    workspace = Workspace.objects.get(pk=model.workspace_id)
    record_audit(
        workspace, actor=actor, action="health_model.activated", target=model, version=model.version
    )
    return model
