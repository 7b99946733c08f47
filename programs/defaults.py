"""The programs and templates every new workspace starts with.

Admins edit all of it in the admin; `ensure_default_programs` adds only what is
missing, by key, so running it again never overwrites an admin's changes.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Workspace
from accounts.scope import workspace_scope
from lifecycle.journey import ensure_default_milestones
from lifecycle.models import MilestoneDefinition
from programs.models import (
    EmailCategory,
    EmailTemplate,
    EnrollmentRule,
    Program,
    ProgramKind,
    ProgramStep,
    StepKind,
)
from programs.windows import settings_for

FOOTER = (
    "\n\n--\n{{ workspace.sender_name }}\n"
    "Choose which emails you get: {{ links.preferences }}\n"
    "Stop these emails: {{ links.unsubscribe }}\n"
)


def _email(key: str, name: str, subject: str, body: str, category: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "subject": subject,
        "text_body": body.strip() + FOOTER,
        "category": category,
    }


ONBOARDING = EmailCategory.ONBOARDING
TEMPLATES = [
    _email(
        "first-success-day-0",
        "First Success, day 0: welcome",
        "Welcome to ReptiDex, {{ breeder.first_name }}",
        """
Hi {{ breeder.first_name }},

Welcome to ReptiDex. Three quick wins for your first day:

1. Finish your breeder profile, so buyers and other breeders know who you are.
2. Add your first animal, with its species, morph and hatch date.
3. Add a photo: records with photos get far more attention on the marketplace.

Each takes a couple of minutes. Reply to this email if anything gets in the way; a
person reads every answer.
""",
        ONBOARDING,
    ),
    _email(
        "first-success-day-2",
        "First Success, day 2: a complete animal record",
        "What a complete animal record looks like",
        """
Hi {{ breeder.first_name }},

A complete record has the species and morph, sex, hatch date, weight history,
feeding and shedding notes, and photos. Complete records make pairing decisions,
sales and vet visits easier, and they are what your pedigrees are built from.

Open any animal and fill in what is missing; the record shows how complete it is.
""",
        ONBOARDING,
    ),
    _email(
        "first-success-day-5",
        "First Success, day 5: pedigrees and lineage",
        "Why pedigrees and lineage tracking matter",
        """
Hi {{ breeder.first_name }},

A pedigree links each animal to its parents, so you can prove lineage to buyers, avoid
pairing close relatives and predict what a pairing will produce with the genetics
calculator.

Create your first pedigree from any animal's page: choose "Add parents".
""",
        ONBOARDING,
    ),
    _email(
        "first-success-day-10",
        "First Success, day 10: forums and community",
        "Meet breeders who keep what you keep",
        """
Hi {{ breeder.first_name }},

The ReptiDex forums are where breeders compare husbandry notes, share clutch results
and answer newcomers' questions. Introduce yourself in the welcome forum, or follow
breeders who keep the same species as you.
""",
        ONBOARDING,
    ),
    _email(
        "first-success-day-15",
        "First Success, day 15: the marketplace",
        "Buying and selling on the ReptiDex marketplace",
        """
Hi {{ breeder.first_name }},

Listings on the marketplace come with the animal's record and lineage attached, so
buyers see what they are getting. Browse what is on offer, or publish your first
listing straight from an animal's page.
""",
        ONBOARDING,
    ),
    _email(
        "first-success-day-20",
        "First Success, day 20: premium preview",
        "A look at the premium tools",
        """
Hi {{ breeder.first_name }},

Premium adds unlimited records, multi-generation pedigree reports, collection
analytics and priority support. If your collection is growing, it saves hours every
season. Your plan page shows the options.
""",
        ONBOARDING,
    ),
    _email(
        "first-success-day-30",
        "First Success, day 30: celebration and next steps",
        "Your first month on ReptiDex",
        """
Hi {{ breeder.first_name }},

You have been on ReptiDex for a month. Thank you for building your collection with
us. Next steps that breeders at your stage find useful: the monthly Breeding Excellence
webinar, the Breeder to Breeder mentorship program, and a pedigree report for your
best pairing.
""",
        ONBOARDING,
    ),
    _email(
        "milestone-celebration",
        "Milestone celebration",
        "Well done: {{ milestone.name }}",
        """
Hi {{ breeder.first_name }},

You reached a milestone: {{ milestone.name }}.
{% if next_milestone.name %}
Next up: {{ next_milestone.name }}. Most breeders get there by day {{ next_milestone.target_day }}.
{% else %}
That completes your onboarding milestones.
{% endif %}
""",
        ONBOARDING,
    ),
    _email(
        "milestone-nudge",
        "Missed-milestone nudge",
        "Need a hand with {{ milestone.name|lower }}?",
        """
Hi {{ breeder.first_name }},

Most breeders reach "{{ milestone.name }}" in their first weeks, and it makes the rest
of ReptiDex much more useful. If something is in the way, reply to this email and
we will help.
""",
        ONBOARDING,
    ),
    _email(
        "education-welcome",
        "Breeding Excellence: welcome",
        "Your Breeding Excellence curriculum",
        """
Hi {{ breeder.first_name }},

Breeding Excellence is our free curriculum for breeders who are starting out. Over
the next months you get one topic every two weeks: genetics fundamentals, record
keeping, pedigree analysis, market trends, and photography and presentation.

Each topic has a live webinar once a month, an on-demand video, a written guide and a
workshop where you can bring your own animals' records. Peer sessions with other
breeders follow each workshop.
""",
        EmailCategory.EDUCATION,
    ),
    _email(
        "education-topic",
        "Breeding Excellence: topic",
        "Breeding Excellence: {{ program.step_title }}",
        """
Hi {{ breeder.first_name }},

This fortnight's Breeding Excellence topic is {{ program.step_title|lower }}.

Join the monthly live webinar to ask questions, or watch the recording on demand when
it suits you. The written guide and the workshop materials are in the Learn section
of ReptiDex.
""",
        EmailCategory.EDUCATION,
    ),
    _email(
        "mentorship-welcome",
        "Breeder to Breeder: welcome",
        "Welcome to Breeder to Breeder mentorship",
        """
Hi {{ breeder.first_name }},

You are in Breeder to Breeder, our six-month mentorship program. We are matching you
with an experienced breeder who keeps species like yours; they will contact you within
a week.

You and your mentor meet every two weeks, and the whole cohort meets once a month.
The program ends with a graduation after six months.
""",
        EmailCategory.EDUCATION,
    ),
    _email(
        "mentorship-cohort",
        "Breeder to Breeder: cohort meeting",
        "This month's Breeder to Breeder cohort meeting",
        """
Hi {{ breeder.first_name }},

The monthly meeting of your mentorship cohort is coming up. Bring one question about
your collection and one thing that went well; every mentee gets a few minutes.
""",
        EmailCategory.EDUCATION,
    ),
    _email(
        "mentorship-graduation",
        "Breeder to Breeder: graduation",
        "Congratulations on graduating from Breeder to Breeder",
        """
Hi {{ breeder.first_name }},

Six months ago you joined Breeder to Breeder. Congratulations on finishing it. If you
would like to mentor a newer breeder yourself one day, reply to this email.
""",
        EmailCategory.EDUCATION,
    ),
    _email(
        "onboarding-survey",
        "Onboarding survey (CSAT)",
        "How was your first month, {{ breeder.first_name }}?",
        """
Hi {{ breeder.first_name }},

How satisfied are you with ReptiDex so far? Choose a score (1 is very unsatisfied,
5 is very satisfied):

{% for choice in links.scores %}{{ choice.score }}: {{ choice.url }}
{% endfor %}
Each link opens a page where you can add a comment before you send your answer.
""",
        EmailCategory.SURVEYS,
    ),
    _email(
        "quarterly-nps",
        "Quarterly NPS",
        "How likely are you to recommend ReptiDex?",
        """
Hi {{ breeder.first_name }},

On a scale from 0 to 10, how likely are you to recommend ReptiDex to another breeder?

{% for choice in links.scores %}{{ choice.score }}: {{ choice.url }}
{% endfor %}
Each link opens a page where you can add a comment before you send your answer.
""",
        EmailCategory.SURVEYS,
    ),
]

# The Breeding Excellence curriculum: (step key, topic, day after enrollment).
EDUCATION_TOPICS = [
    ("genetics", "Genetics fundamentals", 14),
    ("record-keeping", "Record keeping", 28),
    ("pedigree-analysis", "Pedigree analysis", 42),
    ("market-trends", "Market trends", 56),
    ("photography", "Photography and presentation", 70),
]

PROGRAMS: list[dict[str, Any]] = [
    {
        "key": "first-success",
        "name": "First Success",
        "kind": ProgramKind.ONBOARDING,
        "category": EmailCategory.ONBOARDING,
        "priority": 60,
        "enrollment_rule": EnrollmentRule.SIGNUP,
        "description": "Thirty days of onboarding: seven emails and two personal touches.",
        "steps": [
            (
                "welcome-founder",
                "Personal welcome from the founder",
                0,
                StepKind.OUTREACH,
                {"outreach_role": "owner", "due_within_hours": 24},
            ),
            (
                "welcome",
                "Welcome and quick wins",
                0,
                StepKind.EMAIL,
                {"template": "first-success-day-0"},
            ),
            (
                "animal-record",
                "A complete animal record",
                2,
                StepKind.EMAIL,
                {"template": "first-success-day-2", "skip": "account_setup"},
            ),
            (
                "pedigrees",
                "Pedigrees and lineage",
                5,
                StepKind.EMAIL,
                {"template": "first-success-day-5", "skip": "first_pedigree"},
            ),
            (
                "community",
                "Forums and community",
                10,
                StepKind.EMAIL,
                {"template": "first-success-day-10", "skip": "community"},
            ),
            (
                "csm-touch",
                "CSM call or note",
                12,
                StepKind.OUTREACH,
                {"outreach_role": "csm", "due_within_hours": 72},
            ),
            (
                "marketplace",
                "The marketplace",
                15,
                StepKind.EMAIL,
                {"template": "first-success-day-15", "skip": "marketplace"},
            ),
            (
                "premium",
                "Premium preview",
                20,
                StepKind.EMAIL,
                {"template": "first-success-day-20"},
            ),
            (
                "celebration",
                "Celebration and next steps",
                30,
                StepKind.EMAIL,
                {"template": "first-success-day-30"},
            ),
        ],
    },
    {
        "key": "breeding-excellence",
        "name": "Breeding Excellence",
        "kind": ProgramKind.EDUCATION,
        "category": EmailCategory.EDUCATION,
        "priority": 35,
        "enrollment_rule": EnrollmentRule.TIER,
        "enrollment_value": "new_breeder",
        "description": "Education for new breeders: a topic every two weeks, with webinars.",
        "steps": [
            (
                "welcome",
                "Welcome to the curriculum",
                1,
                StepKind.EMAIL,
                {"template": "education-welcome"},
            ),
            *[
                (key, title, day, StepKind.EMAIL, {"template": "education-topic"})
                for key, title, day in EDUCATION_TOPICS
            ],
        ],
    },
    {
        "key": "breeder-to-breeder",
        "name": "Breeder to Breeder",
        "kind": ProgramKind.MENTORSHIP,
        "category": EmailCategory.EDUCATION,
        "priority": 45,
        "enrollment_rule": EnrollmentRule.MANUAL,
        "description": "Six months of mentorship by an experienced breeder, by hand.",
        "steps": [
            (
                "match",
                "Match a mentor",
                0,
                StepKind.OUTREACH,
                {"outreach_role": "manager", "due_within_hours": 72},
            ),
            (
                "welcome",
                "Welcome to mentorship",
                0,
                StepKind.EMAIL,
                {"template": "mentorship-welcome"},
            ),
            *[
                (
                    f"check-in-{n}",
                    f"Mentor check-in {n}",
                    14 * n,
                    StepKind.OUTREACH,
                    {"outreach_role": "csm", "due_within_hours": 48},
                )
                for n in range(1, 13)
            ],
            *[
                (
                    f"cohort-{n}",
                    f"Cohort meeting {n}",
                    30 * n,
                    StepKind.EMAIL,
                    {"template": "mentorship-cohort"},
                )
                for n in range(1, 6)
            ],
            (
                "graduation",
                "Graduation",
                180,
                StepKind.EMAIL,
                {"template": "mentorship-graduation"},
            ),
        ],
    },
    {
        "key": "onboarding-survey",
        "name": "Onboarding survey",
        "kind": ProgramKind.SURVEY,
        "category": EmailCategory.SURVEYS,
        "priority": 40,
        "enrollment_rule": EnrollmentRule.SIGNUP,
        "description": "A satisfaction question on day 30.",
        "steps": [
            (
                "csat-day-30",
                "Onboarding satisfaction",
                30,
                StepKind.SURVEY,
                {"template": "onboarding-survey", "survey_kind": "csat"},
            ),
        ],
    },
    {
        "key": "quarterly-nps",
        "name": "Quarterly NPS",
        "kind": ProgramKind.SURVEY,
        "category": EmailCategory.SURVEYS,
        "priority": 30,
        "enrollment_rule": EnrollmentRule.QUARTERLY,
        "description": "The recommendation question once a quarter, after onboarding.",
        "steps": [
            (
                "nps",
                "Quarterly NPS",
                0,
                StepKind.SURVEY,
                {"template": "quarterly-nps", "survey_kind": "nps"},
            ),
        ],
    },
]


# Bumped when a release adds default programs or templates. A workspace whose recorded
# version is lower gets the missing ones from the next planning job, so workspaces
# created before a program existed receive it too. Defaults are matched by key, so an
# admin's edits stay; a default program an admin deleted comes back at the next bump.
DEFAULTS_VERSION = 2
DEFAULTS_SETTING = "programs_defaults_version"


def defaults_are_current(workspace: Workspace) -> bool:
    return int(workspace.settings.get(DEFAULTS_SETTING, 0)) >= DEFAULTS_VERSION


@transaction.atomic
def ensure_default_programs(workspace: Workspace) -> int:
    """Add the default templates and programs the workspace lacks; return how many
    programs were added."""
    added = 0
    with workspace_scope(workspace):
        ensure_default_milestones(workspace)
        settings_for(workspace.pk)
        templates = {}
        for spec in TEMPLATES:
            template, _ = EmailTemplate.objects.get_or_create(
                workspace=workspace, key=spec["key"], defaults=spec
            )
            templates[spec["key"]] = template
        milestones = {m.key: m for m in MilestoneDefinition.objects.all()}
        for spec in PROGRAMS:
            fields = {k: v for k, v in spec.items() if k != "steps"}
            program, created = Program.objects.get_or_create(
                workspace=workspace, key=spec["key"], defaults=fields
            )
            if not created:
                continue
            added += 1
            for key, title, day, kind, extra in spec["steps"]:
                ProgramStep.objects.create(
                    workspace=workspace,
                    program=program,
                    key=key,
                    title=title,
                    day_offset=day,
                    kind=kind,
                    template=templates.get(extra.get("template", "")),
                    survey_kind=extra.get("survey_kind", ""),
                    outreach_role=extra.get("outreach_role", ""),
                    due_within_hours=extra.get("due_within_hours", 48),
                    skip_if_milestone=milestones.get(extra.get("skip", "")),
                )
    # Locked and read again, so a concurrent change to another setting is kept.
    stored = Workspace.objects.select_for_update().get(pk=workspace.pk)
    stored.settings[DEFAULTS_SETTING] = DEFAULTS_VERSION
    stored.save(update_fields=["settings"])
    workspace.settings[DEFAULTS_SETTING] = DEFAULTS_VERSION
    return added
