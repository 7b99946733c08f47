"""Programs: seeding, enrollment, send windows, delivery rules, preferences, surveys,
and the staff panel, with Django's in-memory mail backend. The SMTP tests live in
test_programs_smtp.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email.header import decode_header, make_header
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.scope import workspace_scope
from health.alerts import signal_candidates
from health.models import AlertKind
from lifecycle.models import (
    AchievementStatus,
    MilestoneAchievement,
    MilestoneDefinition,
    SurveyAnswer,
    Task,
    TimelineEntry,
)
from programs import delivery, enrollment, milestones
from programs.links import make_token
from programs.models import (
    EmailTemplate,
    Enrollment,
    Program,
    ProgramStep,
    ProgramVariant,
    ScheduledSend,
    SendSettings,
    SendState,
    StepKind,
)
from programs.rendering import TemplateProblem, check_template
from programs.windows import local_day_offset, place_in_window
from tests.factories import make_breeder

UTC = ZoneInfo("UTC")
# A Tuesday, 10:00 in Chicago (UTC-6 in January).
TUESDAY_MORNING_CHICAGO = datetime(2026, 1, 13, 16, 0, tzinfo=UTC)


def first_success(workspace) -> Program:
    with workspace_scope(workspace):
        return Program.objects.get(key="first-success")


def deliver(workspace, now=None):
    with workspace_scope(workspace):
        return delivery.deliver_due(workspace.pk, now=now)


def plan(workspace, now):
    with workspace_scope(workspace):
        enrolled = enrollment.enroll_by_rules(workspace.pk, now)
        milestones.queue_milestone_messages(workspace.pk, now)
        enrollment.close_enrollments(workspace.pk, now)
        return enrolled


def sends_of(workspace, breeder):
    with workspace_scope(workspace):
        return list(
            ScheduledSend.objects.filter(breeder=breeder).select_related("step").order_by("due_at")
        )


# Seeding.


def test_new_workspace_gets_first_success_and_surveys(cast):
    with workspace_scope(cast.acme):
        program = Program.objects.get(key="first-success")
        steps = list(program.steps.order_by("day_offset", "key"))
        emails = [s.day_offset for s in steps if s.kind == StepKind.EMAIL]
        outreach = [
            (s.day_offset, s.outreach_role, s.due_within_hours)
            for s in steps
            if s.kind == StepKind.OUTREACH
        ]
        assert emails == [0, 2, 5, 10, 15, 20, 30]
        assert outreach == [(0, "owner", 24), (12, "csm", 72)]
        survey = Program.objects.get(key="onboarding-survey").steps.get()
        assert (survey.day_offset, survey.survey_kind) == (30, "csat")
        assert Program.objects.get(key="quarterly-nps").enrollment_rule == "quarterly"
        for template in EmailTemplate.objects.all():
            template.full_clean()
    with workspace_scope(cast.globex):
        assert Program.objects.filter(key="first-success").count() == 1


def test_education_and_mentorship_are_seeded(cast):
    with workspace_scope(cast.acme):
        education = Program.objects.get(key="breeding-excellence")
        mentorship = Program.objects.get(key="breeder-to-breeder")
        assert (education.enrollment_rule, education.enrollment_value) == ("tier", "new_breeder")
        assert list(education.steps.values_list("day_offset", flat=True)) == [1, 14, 28, 42, 56, 70]
        assert mentorship.enrollment_rule == "manual"
        check_ins = mentorship.steps.filter(kind=StepKind.OUTREACH, outreach_role="csm")
        assert sorted(check_ins.values_list("day_offset", flat=True)) == list(range(14, 169, 14))
        assert mentorship.steps.get(key="graduation").day_offset == 180


def test_new_breeder_tier_enrolls_in_education(cast):
    newcomer = make_breeder(cast.acme, tier="new_breeder", signed_up_at=TUESDAY_MORNING_CHICAGO)
    veteran = make_breeder(cast.acme, tier="professional", signed_up_at=TUESDAY_MORNING_CHICAGO)
    plan(cast.acme, TUESDAY_MORNING_CHICAGO)
    with workspace_scope(cast.acme):
        enrolled = set(
            Enrollment.objects.filter(program__key="breeding-excellence").values_list(
                "breeder_id", flat=True
            )
        )
    assert newcomer.pk in enrolled
    assert veteran.pk not in enrolled


def test_mentor_match_task_falls_back_to_the_owner(cast):
    """Acme has no CS manager, so the manager's outreach step goes to the owner."""
    breeder = make_breeder(cast.acme, time_zone="UTC")
    now = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    with workspace_scope(cast.acme):
        program = Program.objects.get(key="breeder-to-breeder")
        enrollment.enroll_breeders(program, [breeder], now=now)
    with time_machine.travel(now + timedelta(minutes=1), tick=False):
        deliver(cast.acme)
    with workspace_scope(cast.acme):
        task = Task.objects.get(breeder=breeder, title__startswith="Match a mentor")
    assert task.assignee == cast.alice


# Send windows.


def test_place_in_window_moves_evenings_and_weekends_forward():
    send = SendSettings()
    tz = ZoneInfo("Europe/Berlin")
    friday_evening = datetime(2026, 1, 16, 18, 30, tzinfo=tz)
    assert place_in_window(friday_evening, send, tz) == datetime(2026, 1, 19, 9, 0, tzinfo=tz)
    tuesday_early = datetime(2026, 1, 13, 6, 0, tzinfo=tz)
    assert place_in_window(tuesday_early, send, tz) == datetime(2026, 1, 13, 9, 0, tzinfo=tz)
    inside = datetime(2026, 1, 13, 11, 15, tzinfo=tz)
    assert place_in_window(inside, send, tz) == inside


def test_day_offsets_keep_local_time_across_daylight_saving():
    tz = ZoneInfo("Europe/Berlin")  # clocks go forward on Sunday 29 March 2026
    enrolled = datetime(2026, 3, 25, 10, 30, tzinfo=tz)
    due = local_day_offset(enrolled, 5, tz)
    assert due.astimezone(tz).hour == 10
    assert due.astimezone(tz).minute == 30
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)
    assert enrolled.astimezone(UTC).hour == 9  # one hour more before the change
    placed = place_in_window(local_day_offset(enrolled, 4, tz), SendSettings(), tz)
    assert placed.astimezone(tz) == datetime(2026, 3, 30, 9, 0, tzinfo=tz)  # Sunday → Monday


# Enrollment.


def test_signup_rule_enrolls_once_and_schedules_every_step(cast):
    breeder = make_breeder(
        cast.acme, time_zone="America/Chicago", signed_up_at=TUESDAY_MORNING_CHICAGO
    )
    assert plan(cast.acme, TUESDAY_MORNING_CHICAGO) >= 2
    assert plan(cast.acme, TUESDAY_MORNING_CHICAGO + timedelta(minutes=1)) == 0
    sends = sends_of(cast.acme, breeder)
    first = [s for s in sends if s.enrollment.program.key == "first-success"]
    assert len(first) == 9
    assert len({s.key for s in sends}) == len(sends)
    tz = ZoneInfo("America/Chicago")
    for send in sends:
        if send.kind != "outreach":
            local = send.send_after.astimezone(tz)
            assert 9 <= local.hour < 17, send.key
            assert local.weekday() < 5, send.key
    with workspace_scope(cast.globex):
        assert not Enrollment.objects.exists()


def test_holdout_and_variants_stable(cast):
    program = first_success(cast.acme)
    with workspace_scope(cast.acme):
        program.holdout_percent = 30
        program.save()
        short = ProgramVariant.objects.create(
            workspace=cast.acme, program=program, key="b", name="Short"
        )
        control = ProgramVariant.objects.create(
            workspace=cast.acme, program=program, key="a", name="Control"
        )
        template = EmailTemplate.objects.get(key="first-success-day-20")
        ProgramStep.objects.create(
            workspace=cast.acme,
            program=program,
            variant=short,
            key="extra",
            title="Extra",
            day_offset=1,
            kind=StepKind.EMAIL,
            template=template,
        )
        breeders = [make_breeder(cast.acme) for _ in range(60)]
        created = enrollment.enroll_breeders(program, breeders, now=TUESDAY_MORNING_CHICAGO)
        holdouts = [e for e in created if e.holdout]
        assert 8 <= len(holdouts) <= 30
        assert {e.variant_id for e in created if not e.holdout} == {control.pk, short.pk}
        for e in holdouts:
            assert not ScheduledSend.objects.filter(enrollment=e).exists()
        for e in created:
            if e.holdout:
                continue
            has_extra = ScheduledSend.objects.filter(enrollment=e, step__key="extra").exists()
            assert has_extra == (e.variant_id == short.pk)
        # Assignment is a pure function of the program and the breeder: stable.
        variants = [(control.pk, 1), (short.pk, 1)]
        for e in created:
            again = enrollment.assign(program, variants, str(e.breeder.public_id))
            assert (again.holdout, again.variant_id) == (e.holdout, e.variant_id)


# Delivery.


def test_day_zero_email_sent_once(cast):
    breeder = make_breeder(
        cast.acme,
        name="Zoë Ångström",
        time_zone="America/Chicago",
        signed_up_at=TUESDAY_MORNING_CHICAGO,
    )
    with workspace_scope(cast.acme):
        EmailTemplate.objects.filter(key="first-success-day-0").update(
            subject="Willkommen, {{ breeder.first_name }} 🦎"
        )
    plan(cast.acme, TUESDAY_MORNING_CHICAGO)
    with time_machine.travel(TUESDAY_MORNING_CHICAGO + timedelta(minutes=5), tick=False):
        outcome = deliver(cast.acme)
        assert outcome["sent"] == 1
        assert outcome["task"] == 1
        assert deliver(cast.acme)["sent"] == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0].message()
    assert str(make_header(decode_header(message["Subject"]))) == "Willkommen, Zoë 🦎"
    assert "Zo=C3=AB" in message["To"] or "=?utf-8?" in message["To"].lower()
    assert (
        message["List-Unsubscribe"].startswith("<http") and "/e/u/" in message["List-Unsubscribe"]
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].startswith("<send-")
    assert message.is_multipart()
    with workspace_scope(cast.acme):
        assert (
            TimelineEntry.objects.filter(
                breeder=breeder, kind="email", title__startswith="Email sent"
            ).count()
            == 1
        )
        task = Task.objects.get(breeder=breeder, source="program")
        assert task.assignee == cast.alice  # the owner gives the founder's welcome
        assert task.due_on == date(2026, 1, 14)


def test_outside_window_send_waits_for_the_window(cast):
    breeder = make_breeder(cast.acme, time_zone="Asia/Tokyo", signed_up_at=TUESDAY_MORNING_CHICAGO)
    plan(cast.acme, TUESDAY_MORNING_CHICAGO)  # 01:00 on Wednesday in Tokyo
    with time_machine.travel(TUESDAY_MORNING_CHICAGO + timedelta(minutes=1), tick=False):
        assert deliver(cast.acme)["sent"] == 0
    tokyo_nine = datetime(2026, 1, 14, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    with time_machine.travel(tokyo_nine + timedelta(minutes=1), tick=False):
        assert deliver(cast.acme)["sent"] == 1
    assert mail.outbox[0].to[0].endswith(f"<{breeder.email}>")


def test_step_is_skipped_when_its_milestone_was_achieved(cast):
    breeder = make_breeder(
        cast.acme, time_zone="America/Chicago", signed_up_at=TUESDAY_MORNING_CHICAGO
    )
    plan(cast.acme, TUESDAY_MORNING_CHICAGO)
    with workspace_scope(cast.acme):
        milestone = MilestoneDefinition.objects.get(key="first_pedigree")
        MilestoneAchievement.objects.create(
            workspace=cast.acme,
            breeder=breeder,
            milestone=milestone,
            status=AchievementStatus.ON_TIME,
            due_at=TUESDAY_MORNING_CHICAGO + timedelta(days=3),
            achieved_at=TUESDAY_MORNING_CHICAGO + timedelta(days=1),
        )
    # Day 5 is a Sunday, so the email waits for Monday's window.
    monday = TUESDAY_MORNING_CHICAGO + timedelta(days=6, minutes=1)
    with time_machine.travel(monday, tick=False):
        deliver(cast.acme)
    with workspace_scope(cast.acme):
        pedigree = ScheduledSend.objects.get(breeder=breeder, step__key="pedigrees")
        assert pedigree.state == SendState.SKIPPED
        assert pedigree.reason == "milestone already achieved"
    subjects = [m.subject for m in mail.outbox]
    assert "Why pedigrees and lineage tracking matter" not in subjects


def test_weekly_budget_defers_lower_priority_sends(cast):
    breeder = make_breeder(cast.acme, time_zone="UTC", signed_up_at=TUESDAY_MORNING_CHICAGO)
    now = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    with workspace_scope(cast.acme):
        templates = {t.key: t for t in EmailTemplate.objects.all()}
        for n, (key, priority) in enumerate(
            [
                ("first-success-day-20", 20),
                ("first-success-day-2", 60),
                ("milestone-celebration", 80),
                ("first-success-day-5", 60),
            ]
        ):
            ScheduledSend.objects.create(
                workspace=cast.acme,
                key=f"manual:{n}",
                breeder=breeder,
                template=templates[key],
                kind="email",
                category="onboarding",
                priority=priority,
                due_at=now,
                send_after=now,
                context={"milestone_info": {"name": "First pedigree", "status": "on_time"}},
            )
    with time_machine.travel(now, tick=False):
        outcome = deliver(cast.acme)
    assert outcome["sent"] == 3
    assert outcome["deferred:budget"] == 1
    with workspace_scope(cast.acme):
        waiting = ScheduledSend.objects.get(breeder=breeder, state=SendState.PENDING)
        assert waiting.priority == 20
        assert waiting.send_after >= now + timedelta(days=7)


def test_celebration_names_the_next_milestone(cast):
    breeder = make_breeder(cast.acme, time_zone="UTC")
    now = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    with workspace_scope(cast.acme):
        setup = MilestoneDefinition.objects.get(key="account_setup")
        MilestoneAchievement.objects.create(
            workspace=cast.acme,
            breeder=breeder,
            milestone=setup,
            status=AchievementStatus.ON_TIME,
            due_at=now + timedelta(days=1),
            achieved_at=now - timedelta(hours=1),
        )
        assert milestones.queue_milestone_messages(cast.acme.pk, now) == 1
        assert milestones.queue_milestone_messages(cast.acme.pk, now) == 0
    with time_machine.travel(now, tick=False):
        deliver(cast.acme)
    celebration = [m for m in mail.outbox if m.subject.startswith("Well done")]
    assert len(celebration) == 1
    assert "Next up: First pedigree" in celebration[0].body


# Templates.


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{{ breeder.nonexistent_field }}", "text_body"),
        ("{% include 'base.html' %}", "text_body"),
        ("{{ breeder.__class__.__mro__ }}", "text_body"),
        ("{% load static %}", "text_body"),
        ("{{ settings.SECRET_KEY }}", "text_body"),
    ],
)
def test_templates_cannot_reach_outside_their_context(body, field):
    with pytest.raises(TemplateProblem) as problem:
        check_template("Hello", body, "")
    assert problem.value.field == field


def test_template_errors_name_the_field(cast):
    with workspace_scope(cast.acme):
        template = EmailTemplate(
            workspace=cast.acme, key="x", name="X", subject="{{ oops", text_body="Hi"
        )
        with pytest.raises(ValidationError) as invalid:
            template.full_clean()
    assert "subject" in invalid.value.message_dict


# Preferences and unsubscribe.


def unsubscribe_token(workspace, breeder, category="onboarding"):
    return make_token("unsubscribe", breeder, workspace, c=category)


def test_unsubscribe_get_changes_nothing_and_cookieless_post_works(cast):
    breeder = make_breeder(cast.acme, time_zone="UTC", signed_up_at=timezone.now())
    plan(cast.acme, timezone.now())
    token = unsubscribe_token(cast.acme, breeder)
    anonymous = Client(enforce_csrf_checks=True)
    page = anonymous.get(f"/e/u/{token}/")
    assert page.status_code == 200
    assert b"Stop onboarding emails?" in page.content
    with workspace_scope(cast.acme):
        assert ScheduledSend.objects.filter(
            breeder=breeder, category="onboarding", state="pending"
        ).exists()
    response = anonymous.post(
        f"/e/u/{token}/",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    with workspace_scope(cast.acme):
        # Emails of the category stop; the people's outreach tasks stay.
        assert not (
            ScheduledSend.objects.filter(breeder=breeder, category="onboarding", state="pending")
            .exclude(kind="outreach")
            .exists()
        )
        assert ScheduledSend.objects.filter(
            breeder=breeder, category="surveys", state="pending"
        ).exists()
        assert TimelineEntry.objects.filter(
            breeder=breeder, title__startswith="Email preferences changed"
        ).exists()


def test_tampered_or_foreign_links_are_refused(cast):
    token = unsubscribe_token(cast.acme, cast.acme_breeder)
    assert Client().post(f"/e/u/{token[:-2]}xx/").status_code == 400
    # A preferences token is no unsubscribe token.
    prefs = make_token("preferences", cast.acme_breeder, cast.acme)
    assert Client().post(f"/e/u/{prefs}/").status_code == 400
    # Only the breeder it names is touched.
    Client().post(f"/e/u/{token}/")
    from programs.models import EmailPreference

    with workspace_scope(cast.globex):
        assert not EmailPreference.objects.filter(breeder=cast.globex_breeder).exists()


def test_preferences_page_saves_categories(cast):
    breeder = make_breeder(cast.acme, signed_up_at=timezone.now())
    token = make_token("preferences", breeder, cast.acme)
    client = Client(enforce_csrf_checks=True)
    assert client.get(f"/e/p/{token}/").status_code == 200
    response = client.post(f"/e/p/{token}/", {"category": ["onboarding", "education"]})
    assert response.status_code == 200
    from programs.models import EmailPreference

    with workspace_scope(cast.acme):
        pref = EmailPreference.objects.get(breeder=breeder)
    assert sorted(pref.opted_out) == ["product_news", "surveys"]
    assert not pref.allows("surveys")
    assert pref.allows("onboarding")


# Surveys.


def make_survey_send(workspace, breeder, kind="nps"):
    with workspace_scope(workspace):
        program = Program.objects.get(key="quarterly-nps" if kind == "nps" else "onboarding-survey")
        created = enrollment.enroll_breeders(program, [breeder], cycle="test")
        return ScheduledSend.objects.get(enrollment=created[0])


def test_survey_answer_is_recorded_by_post_only(cast):
    breeder = cast.acme_breeder
    send = make_survey_send(cast.acme, breeder)
    token = make_token("survey", breeder, cast.acme, s=str(send.public_id), k="nps")
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/e/s/{token}/?score=3")
    assert page.status_code == 200
    assert b'value="3" checked' in page.content
    with workspace_scope(cast.acme):
        assert not SurveyAnswer.objects.exists()
    assert client.post(f"/e/s/{token}/", {"score": "11"}).status_code == 400
    assert client.post(f"/e/s/{token}/", {"score": "3", "comment": "Too slow"}).status_code == 200
    assert client.post(f"/e/s/{token}/", {"score": "4", "comment": "Still slow"}).status_code == 200
    with workspace_scope(cast.acme):
        answer = SurveyAnswer.objects.get()
        assert (answer.score, answer.comment) == (4, "Still slow")
        entries = TimelineEntry.objects.filter(breeder=breeder, kind="survey")
        assert entries.count() == 1
        assert "(changed)" in entries.get().title
        kinds = {c.kind for c in signal_candidates(cast.acme.pk, timezone.now())}
    assert AlertKind.DETRACTOR in kinds


def test_survey_link_expires_after_the_answer_period(cast):
    send = make_survey_send(cast.acme, cast.acme_breeder, kind="csat")
    token = make_token("survey", cast.acme_breeder, cast.acme, s=str(send.public_id), k="csat")
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        response = Client().post(f"/e/s/{token}/", {"score": "5"})
    assert response.status_code == 410


# Staff panel.


def test_programs_panel_is_tenant_scoped_and_bounded(cast, client_for):
    url = f"/w/acme/programs/breeders/{cast.acme_breeder.public_id}/panel/"
    bob = client_for(cast.bob)
    plan(cast.acme, timezone.now())
    bob.get(url)  # the first request of a session reads a few things once
    with CaptureQueriesContext(connection) as few:
        assert bob.get(url).status_code == 200
    for _ in range(3):
        extra = make_breeder(cast.acme)
        with workspace_scope(cast.acme):
            for program in Program.objects.all():
                enrollment.enroll_breeders(
                    program, [cast.acme_breeder, extra], cycle=f"c{program.pk}{extra.pk}"
                )
    with CaptureQueriesContext(connection) as many:
        assert bob.get(url).status_code == 200
    assert len(many) == len(few)
    foreign = f"/w/acme/programs/breeders/{cast.globex_breeder.public_id}/panel/"
    assert bob.get(foreign).status_code == 404
    assert client_for(cast.charlie).get(url).status_code in (403, 404)


def test_enroll_by_hand_needs_edit_rights(cast, client_for):
    with workspace_scope(cast.acme):
        program = Program.objects.get(key="first-success")
    url = f"/w/acme/programs/breeders/{cast.acme_breeder.public_id}/enroll/"
    assert client_for(cast.vera).post(url, {"program": str(program.public_id)}).status_code == 403
    with workspace_scope(cast.globex):
        foreign = Program.objects.get(key="first-success")
    assert client_for(cast.bob).post(url, {"program": str(foreign.public_id)}).status_code == 404
    assert client_for(cast.bob).post(url, {"program": str(program.public_id)}).status_code == 302
    with workspace_scope(cast.acme):
        assert Enrollment.objects.get(breeder=cast.acme_breeder).enrolled_by == cast.bob


# Admin.


def test_template_preview_scoped_to_workspace(cast, client_for):
    alice = client_for(cast.alice)
    alice.get("/w/acme/")  # opening a workspace page picks the workspace the admin configures
    with workspace_scope(cast.acme):
        template = EmailTemplate.objects.get(key="first-success-day-0")
    with workspace_scope(cast.globex):
        foreign = EmailTemplate.objects.get(key="first-success-day-0")
    url = f"/admin/programs/emailtemplate/{template.pk}/preview/"
    page = alice.get(url)
    assert page.status_code == 200, page.content[:300]
    assert b"Welcome to ReptiDex" in page.content
    assert alice.post(url, {"breeder": str(cast.acme_breeder.public_id)}).status_code == 200
    assert mail.outbox[-1].to == ["alice@example.com"]
    assert mail.outbox[-1].subject.startswith("[Test] ")
    # A test send must not be able to opt the real breeder out.
    assert "List-Unsubscribe" not in mail.outbox[-1].extra_headers
    assert "/e/u/" not in mail.outbox[-1].body.replace("example.com/e/u/sample", "")
    assert alice.get(f"/admin/programs/emailtemplate/{foreign.pk}/preview/").status_code == 404


def test_template_in_use_cannot_be_deleted_but_workspace_can(cast):
    from django.db.models import RestrictedError

    with workspace_scope(cast.acme):
        template = EmailTemplate.objects.get(key="first-success-day-0")
        with pytest.raises(RestrictedError):
            template.delete()
    globex_id = cast.globex.pk
    cast.globex.delete()
    assert not Program.unscoped_objects.filter(workspace_id=globex_id).exists()


def test_text_part_becomes_readable_html():
    from programs.rendering import text_to_html

    html = text_to_html(
        "Hi,\n\n1. Finish your\n   profile.\n2. Add an animal.\n\nReply if anything"
        " gets in the way; a\nperson reads it.\n\n--\nThe team\nStop: https://x.example/u/"
    )
    assert "<p>1. Finish your profile.<br>\n2. Add an animal.</p>" in html
    assert "<p>Reply if anything gets in the way; a person reads it.</p>" in html
    assert '<br>\nStop: <a href="https://x.example/u/">https://x.example/u/</a></p>' in html


def test_planning_job_adds_missing_defaults_to_older_workspaces(cast):
    """A workspace created before a default program existed gets it from the next
    planning run, and an admin's edit to an existing template stays."""
    from programs.defaults import DEFAULTS_SETTING, DEFAULTS_VERSION
    from programs.tasks import plan_programs

    with workspace_scope(cast.acme):
        Program.objects.filter(key="breeding-excellence").delete()
        EmailTemplate.objects.filter(key="first-success-day-0").update(subject="Edited")
    cast.acme.settings.pop(DEFAULTS_SETTING)
    cast.acme.save(update_fields=["settings"])
    plan_programs.delay(workspace_id=cast.acme.pk)
    cast.acme.refresh_from_db()
    assert cast.acme.settings[DEFAULTS_SETTING] == DEFAULTS_VERSION
    with workspace_scope(cast.acme):
        assert Program.objects.filter(key="breeding-excellence").exists()
        assert EmailTemplate.objects.get(key="first-success-day-0").subject == "Edited"
