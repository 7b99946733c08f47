"""Pages of the programs app.

Breeder-facing pages (unsubscribe, preferences, survey) are reached through signed
links and need no sign-in. They change nothing on GET, because mail scanners fetch
every link in a message; changes happen on POST. Those POSTs are exempt from CSRF:
the signed token in the URL is the authority, there is no session to forge, and RFC
8058's one-click unsubscribe arrives from the mail provider without cookies.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import (
    WorkspaceRequest,
    get_breeder_for_request,
    get_in_workspace,
    require_permission,
)
from accounts.roles import Permission
from accounts.scope import workspace_scope
from lifecycle.models import SurveyAnswer, SurveyKind
from lifecycle.surveys import SCALES, record_survey_answer, validate_score
from programs.enrollment import enroll_by_hand
from programs.links import LinkError, LinkTarget, read_token
from programs.models import (
    CATEGORY_PHRASES,
    EmailCategory,
    Enrollment,
    Program,
    ScheduledSend,
    SendKind,
    SendState,
)
from programs.preferences import preference_for, set_preferences, unsubscribe
from programs.windows import settings_for


def _link_error(request: HttpRequest, error: LinkError) -> HttpResponse:
    return render(
        request,
        "programs/link_problem.html",
        {"message": str(error)},
        status=410 if error.expired else 400,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation page; POST (a button, or a mail client's one-click request)
    unsubscribes from the category the email belonged to."""
    try:
        target = read_token("unsubscribe", token)
    except LinkError as error:
        return _link_error(request, error)
    category = EmailCategory(target.data.get("c", EmailCategory.ONBOARDING))
    context: dict[str, Any] = {
        "target": target,
        "category": category,
        "category_phrase": CATEGORY_PHRASES[category],
        "token": token,
        "preferences_token": None,
    }
    if request.method == "POST":
        with workspace_scope(target.workspace):
            unsubscribe(target.breeder, category, source="Unsubscribe link")
        context["done"] = True
    return render(request, "programs/unsubscribe.html", context)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def preferences_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        target = read_token("preferences", token)
    except LinkError as error:
        return _link_error(request, error)
    with workspace_scope(target.workspace):
        preference = preference_for(target.breeder)
        saved = False
        if request.method == "POST":
            wanted = set(request.POST.getlist("category"))
            unknown = wanted - set(EmailCategory.values)
            if unknown:
                return render(
                    request,
                    "programs/link_problem.html",
                    {"message": "Choose categories from the list on the page."},
                    status=400,
                )
            all_off = request.POST.get("all_off") == "on"
            preference = set_preferences(
                target.breeder,
                opted_out=[c for c in EmailCategory.values if c not in wanted],
                all_off=all_off,
                source="Preferences page",
            )
            saved = True
    categories = [
        (value, label, value not in preference.opted_out) for value, label in EmailCategory.choices
    ]
    return render(
        request,
        "programs/preferences.html",
        {"target": target, "categories": categories, "preference": preference, "saved": saved},
    )


def _survey_target(token: str) -> tuple[LinkTarget, ScheduledSend]:
    # The signature is checked without an age limit first, to learn the workspace
    # whose answer period applies, then again with that limit.
    target = read_token("survey", token)
    days = settings_for(target.workspace.pk).survey_answer_days
    target = read_token("survey", token, max_age_days=days)
    with workspace_scope(target.workspace):
        send = (
            ScheduledSend.objects.filter(
                public_id=str(target.data.get("s", "")),
                breeder=target.breeder,
                kind=SendKind.SURVEY,
            )
            .select_related("enrollment__program")
            .first()
        )
    if send is None:
        raise LinkError("This survey is no longer open.")
    return target, send


@csrf_exempt
@require_http_methods(["GET", "POST"])
def survey_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the question with the clicked score chosen; only POST records it.

    One answer per survey email. Sending the form again from the same link within the
    answer period replaces the earlier answer; after that the link expires.
    """
    try:
        target, send = _survey_target(token)
    except LinkError as error:
        return _link_error(request, error)
    kind = SurveyKind(send.survey_kind)
    low, high = SCALES[kind]
    source_key = f"survey-send:{send.public_id}"
    problem = ""
    recorded = False
    raw_score = request.POST.get("score") if request.method == "POST" else request.GET.get("score")
    try:
        score: int | None = int(raw_score) if raw_score not in (None, "") else None
    except ValueError:
        score = None
    with workspace_scope(target.workspace):
        existing = SurveyAnswer.objects.filter(source_key=source_key).first()
        comment = existing.comment if existing else ""
        if request.method == "POST":
            comment = request.POST.get("comment", "")[:4000]
            try:
                if score is None:
                    raise ValidationError({"score": f"Choose a score from {low} to {high}."})
                validate_score(kind, score)
                program = send.enrollment.program.name if send.enrollment else ""
                record_survey_answer(
                    target.breeder,
                    kind=kind,
                    score=score,
                    comment=comment,
                    source_key=source_key,
                    answered_at=timezone.now(),
                    survey_name=program,
                )
                recorded = True
            except ValidationError as invalid:
                problem = " ".join(invalid.messages)
        elif score is None and existing is not None:
            score = existing.score
    status = 400 if problem else 200
    return render(
        request,
        "programs/survey.html",
        {
            "target": target,
            "kind": kind,
            "choices": list(range(low, high + 1)),
            "score": score,
            "comment": comment,
            "error": problem,
            "recorded": recorded,
            "already": existing is not None and not recorded,
            "low": low,
            "high": high,
        },
        status=status,
    )


# Staff pages: the programs panel of the breeder 360.


@require_GET
def breeder_programs_panel(
    request: WorkspaceRequest, workspace_slug: str, public_id: str
) -> HttpResponse:
    require_permission(request, Permission.VIEW_WORKSPACE)
    breeder = get_breeder_for_request(request, public_id)
    return render(request, "programs/_breeder_panel.html", _panel_context(request, breeder))


def _panel_context(request: WorkspaceRequest, breeder: Any) -> dict[str, Any]:
    enrollments = list(
        Enrollment.objects.filter(breeder=breeder)
        .select_related("program", "variant")
        .order_by("-enrolled_at")
    )
    upcoming: dict[int, ScheduledSend] = {}
    for send in (
        ScheduledSend.objects.filter(breeder=breeder, state=SendState.PENDING)
        .select_related("step")
        .order_by("send_after")
    ):
        if send.enrollment_id is not None:
            upcoming.setdefault(send.enrollment_id, send)
    recent = list(
        ScheduledSend.objects.filter(breeder=breeder)
        .exclude(state=SendState.PENDING)
        .order_by("-sent_at", "-pk")[:10]
    )
    enrolled_ids = {e.program_id for e in enrollments if e.state == "active"}
    return {
        "breeder": breeder,
        "rows": [(e, upcoming.get(e.pk)) for e in enrollments],
        "recent": recent,
        "preference": preference_for(breeder),
        "available": Program.objects.filter(active=True)
        .exclude(pk__in=enrolled_ids)
        .order_by("name"),
        "now": timezone.now(),
    }


@require_POST
def enroll_breeder(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    require_permission(request, Permission.EDIT_BREEDERS)
    breeder = get_breeder_for_request(request, public_id)
    program = get_in_workspace(
        Program.objects.filter(workspace=request.workspace, active=True),
        request.POST.get("program", ""),
    )
    created = enroll_by_hand(program, breeder, by_user_id=request.user.pk)
    if created is None:
        messages.info(request, f"{breeder.display_name} is already in {program.name}.")
    else:
        messages.success(request, f"Enrolled {breeder.display_name} in {program.name}.")
    if request.htmx:
        return render(request, "programs/_breeder_panel.html", _panel_context(request, breeder))
    return redirect("accounts:breeder_detail", workspace_slug, breeder.public_id)
