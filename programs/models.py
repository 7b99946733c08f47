"""Success programs, their steps and enrollments, email templates, scheduled sends and
breeders' email preferences.

A program is a list of steps, each due a number of days after enrollment. Enrolling a
breeder writes one `ScheduledSend` row per step with its due time already placed in
the breeder's local send window; the delivery job claims due rows with
`FOR UPDATE SKIP LOCKED`. The row's unique key (workspace, enrollment, step) is what
makes a retry, a second beat or a killed worker harmless.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.models import Breeder, Role, User, WorkspaceOwned
from lifecycle.models import MilestoneDefinition, SurveyKind


class EmailCategory(models.TextChoices):
    """Email categories a breeder can opt out of, one at a time."""

    ONBOARDING = "onboarding", "Onboarding"
    EDUCATION = "education", "Education"
    SURVEYS = "surveys", "Surveys"
    PRODUCT_NEWS = "product_news", "Product news"


# The phrase pages use for a category's emails in a sentence ("no more survey invitations").
CATEGORY_PHRASES = {
    "onboarding": "onboarding emails",
    "education": "education emails",
    "surveys": "survey invitations",
    "product_news": "product news emails",
}


class ProgramKind(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    EDUCATION = "education", "Education"
    MENTORSHIP = "mentorship", "Mentorship"
    SURVEY = "survey", "Survey"


class EnrollmentRule(models.TextChoices):
    SIGNUP = "signup", "On signup"
    TIER = "tier", "On entering a tier"
    BAND = "band", "On entering a health band"
    QUARTERLY = "quarterly", "Every quarter, after onboarding"
    MANUAL = "manual", "By hand only"


class EmailTemplate(WorkspaceOwned):
    """A message's subject, text and HTML parts.

    The parts are rendered in a sandbox that receives only plain values: `breeder`,
    `program`, `workspace`, `milestone`, `next_milestone` and `links`. See
    `programs.rendering` for the exact names.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    category = models.CharField(
        max_length=20, choices=EmailCategory.choices, default=EmailCategory.ONBOARDING
    )
    subject = models.CharField(max_length=300)
    text_body = models.TextField(help_text="Plain-text part. Every message needs one.")
    html_body = models.TextField(
        blank=True, help_text="HTML part. Left empty, it is made from the text part."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="template_unique_key"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from programs.rendering import TemplateProblem, check_template

        try:
            check_template(self.subject, self.text_body, self.html_body)
        except TemplateProblem as problem:
            raise ValidationError({problem.field: problem.message}) from problem


class Program(WorkspaceOwned):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ProgramKind.choices)
    description = models.TextField(blank=True)
    category = models.CharField(
        max_length=20,
        choices=EmailCategory.choices,
        help_text="The preference a breeder turns off to leave this program's emails.",
    )
    priority = models.PositiveSmallIntegerField(
        default=50,
        validators=[MaxValueValidator(100)],
        help_text="0-100. When a breeder's weekly email budget is spent, lower numbers wait.",
    )
    enrollment_rule = models.CharField(
        max_length=20, choices=EnrollmentRule.choices, default=EnrollmentRule.MANUAL
    )
    enrollment_value = models.CharField(
        max_length=30,
        blank=True,
        help_text="The tier or band that enrolls a breeder, for those two rules.",
    )
    enroll_signups_within_days = models.PositiveSmallIntegerField(
        default=3,
        help_text="On-signup rule only: breeders who signed up longer ago are not enrolled.",
    )
    holdout_percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(90)],
        help_text="Share of enrollments kept as a holdout that gets no messages, for lift.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="program_unique_key"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from accounts.models import Tier

        if self.enrollment_rule == EnrollmentRule.TIER and self.enrollment_value not in Tier.values:
            raise ValidationError(
                {"enrollment_value": f"Give one of the tiers: {', '.join(Tier.values)}."}
            )
        if self.enrollment_rule == EnrollmentRule.BAND and self.enrollment_value not in {
            "green",
            "yellow",
            "red",
        }:
            raise ValidationError(
                {"enrollment_value": "Give one of the bands: green, yellow, red."}
            )


class ProgramVariant(WorkspaceOwned):
    """One arm of an A/B test. A program without variants sends every step to everyone
    who is not held out."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="variants")
    key = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    weight = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Relative share of enrollments."
    )

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="variant_unique_key"),
        ]
        ordering = ["program", "key"]

    def __str__(self) -> str:
        return f"{self.program} / {self.name}"


class StepKind(models.TextChoices):
    EMAIL = "email", "Email"
    OUTREACH = "outreach", "Personal outreach task"
    SURVEY = "survey", "Survey email"


class ProgramStep(WorkspaceOwned):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="steps")
    variant = models.ForeignKey(
        ProgramVariant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text="Only for this variant; empty means every variant.",
    )
    key = models.SlugField(max_length=80)
    title = models.CharField(max_length=200)
    day_offset = models.PositiveSmallIntegerField(help_text="Days after enrollment.")
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    template = models.ForeignKey(
        EmailTemplate,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        help_text="Email and survey steps.",
    )
    survey_kind = models.CharField(max_length=10, choices=SurveyKind.choices, blank=True)
    outreach_role = models.CharField(
        max_length=20,
        blank=True,
        help_text=(
            "Outreach steps: 'csm' for the breeder's CSM (the workspace owner when the "
            "breeder has none) or a workspace role such as 'owner'."
        ),
    )
    outreach_user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Outreach steps: a named person, instead of a role.",
    )
    due_within_hours = models.PositiveSmallIntegerField(
        default=48, help_text="Outreach steps: the task is due this long after the step."
    )
    skip_if_milestone = models.ForeignKey(
        MilestoneDefinition,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Skip this step when the breeder has already achieved the milestone.",
    )

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="step_unique_key"),
        ]
        ordering = ["program", "day_offset", "key"]

    def __str__(self) -> str:
        return f"{self.program}: day {self.day_offset} {self.title}"

    def clean(self) -> None:
        if self.kind in (StepKind.EMAIL, StepKind.SURVEY) and self.template_id is None:
            raise ValidationError({"template": "Email and survey steps need a template."})
        if self.kind == StepKind.SURVEY and not self.survey_kind:
            raise ValidationError({"survey_kind": "Choose NPS or CSAT for a survey step."})
        if self.kind == StepKind.OUTREACH:
            roles = {"csm", *Role.values}
            if self.outreach_user_id is None and self.outreach_role not in roles:
                raise ValidationError(
                    {"outreach_role": f"Give a named person or one of: {', '.join(sorted(roles))}."}
                )
        if self.variant is not None and self.variant.program_id != self.program_id:
            raise ValidationError({"variant": "Choose a variant of this step's program."})


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"


class Enrollment(WorkspaceOwned):
    """A breeder's place in a program.

    `cycle` distinguishes repeated enrollments (the quarter for a quarterly survey) and
    is empty for programs a breeder goes through once.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="enrollments")
    cycle = models.CharField(max_length=20, blank=True, default="")
    variant = models.ForeignKey(ProgramVariant, null=True, blank=True, on_delete=models.SET_NULL)
    holdout = models.BooleanField(default=False)
    state = models.CharField(
        max_length=20, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE
    )
    enrolled_at = models.DateTimeField()
    enrolled_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=40, blank=True)
    outcome = models.JSONField(
        default=dict,
        blank=True,
        help_text="Recorded when the enrollment ends: milestones reached, band, churn.",
    )

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["program", "breeder", "cycle"], name="enrollment_one_per_cycle"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "state"], name="enrollment_ws_state_idx"),
            models.Index(fields=["breeder", "state"], name="enrollment_breeder_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.breeder_id} in {self.program_id}"


class SendKind(models.TextChoices):
    EMAIL = "email", "Email"
    SURVEY = "survey", "Survey email"
    OUTREACH = "outreach", "Outreach task"
    CELEBRATION = "celebration", "Milestone celebration"
    NUDGE = "nudge", "Missed-milestone nudge"


class SendState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    CANCELED = "canceled", "Canceled"
    FAILED = "failed", "Failed"


class ScheduledSend(WorkspaceOwned):
    """One message or outreach task due at a time, delivered once.

    `key` is unique per workspace: "enrollment:<id>:step:<id>" for program steps,
    "milestone:<achievement id>:celebration" for milestone messages. `send_after` is
    already inside the breeder's local send window; deferring a send moves it.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.CharField(max_length=120)
    breeder = models.ForeignKey(Breeder, on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.CASCADE, related_name="sends"
    )
    step = models.ForeignKey(
        ProgramStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=SendKind.choices)
    category = models.CharField(max_length=20, choices=EmailCategory.choices)
    priority = models.PositiveSmallIntegerField(default=50)
    survey_kind = models.CharField(max_length=10, choices=SurveyKind.choices, blank=True)
    context = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(help_text="When the step falls due, before the send window.")
    send_after = models.DateTimeField()
    state = models.CharField(max_length=20, choices=SendState.choices, default=SendState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    deferrals = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=250, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="send_unique_key"),
        ]
        indexes = [
            # The delivery job's claim: a workspace's pending rows, most urgent first.
            # No other index leads with (workspace, state): with stale statistics the
            # planner preferred one and sorted every pending row for each claim.
            models.Index(
                fields=["workspace", "-priority", "send_after", "id"],
                condition=models.Q(state="pending"),
                name="send_pending_due_idx",
            ),
            models.Index(fields=["breeder", "state", "sent_at"], name="send_breeder_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.state})"

    @property
    def is_email(self) -> bool:
        return self.kind != SendKind.OUTREACH


class EmailPreference(WorkspaceOwned):
    """A breeder's opt-outs. No row means every category is on."""

    breeder = models.OneToOneField(Breeder, on_delete=models.CASCADE, related_name="+")
    opted_out = ArrayField(
        models.CharField(max_length=20, choices=EmailCategory.choices), default=list, blank=True
    )
    all_off = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of {self.breeder_id}"

    def allows(self, category: str) -> bool:
        return not self.all_off and category not in self.opted_out


class SendSettings(WorkspaceOwned):
    """A workspace's delivery rules: send window, weekdays and the weekly budget."""

    window_start_hour = models.PositiveSmallIntegerField(
        default=9, validators=[MaxValueValidator(23)]
    )
    window_end_hour = models.PositiveSmallIntegerField(
        default=17,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text="Sends start before this hour, local time.",
    )
    weekdays = ArrayField(
        models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)]),
        default=list,
        blank=True,
        help_text="0 is Monday. Empty means Monday to Friday.",
    )
    weekly_budget = models.PositiveSmallIntegerField(
        default=3, help_text="Most emails one breeder gets in any 7 days, across programs."
    )
    survey_answer_days = models.PositiveSmallIntegerField(
        default=14, help_text="How long a survey link takes an answer or a changed answer."
    )

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="send_settings_one_per_workspace"),
        ]
        verbose_name_plural = "send settings"

    def __str__(self) -> str:
        return f"send settings of {self.workspace_id}"

    def clean(self) -> None:
        if self.window_end_hour <= self.window_start_hour:
            raise ValidationError({"window_end_hour": "End the window after it starts."})

    @property
    def days(self) -> list[int]:
        return sorted(set(self.weekdays)) or [0, 1, 2, 3, 4]


__all__ = [
    "EmailCategory",
    "EmailPreference",
    "EmailTemplate",
    "Enrollment",
    "EnrollmentRule",
    "EnrollmentState",
    "Program",
    "ProgramKind",
    "ProgramStep",
    "ProgramVariant",
    "ScheduledSend",
    "SendKind",
    "SendSettings",
    "SendState",
    "StepKind",
]
