"""Give workspaces created before this app the default ranges and KPI targets.

The values repeat segments.models' defaults as they were when this migration was
written, because a migration must not depend on code that changes later.
"""

from django.db import migrations

RANGES = [
    ("digital_success", None, None, ["hobbyist", "new_breeder"]),
    ("enterprise", 50, 75, ["enterprise"]),
    ("growth", 200, 300, ["professional"]),
]
TARGETS = [
    ("account_setup", "Profile setup", 48, 90),
    ("first_pedigree", "First pedigree", 7 * 24, 70),
    ("community", "Community", 14 * 24, 50),
]


def create_defaults(apps, schema_editor):
    Workspace = apps.get_model("accounts", "Workspace")
    MilestoneDefinition = apps.get_model("lifecycle", "MilestoneDefinition")
    PortfolioRange = apps.get_model("segments", "PortfolioRange")
    KpiSettings = apps.get_model("segments", "KpiSettings")
    OnboardingTarget = apps.get_model("segments", "OnboardingTarget")
    for workspace_id in Workspace.objects.values_list("pk", flat=True):
        PortfolioRange.objects.bulk_create(
            [
                PortfolioRange(
                    workspace_id=workspace_id,
                    csm_role=role,
                    min_breeders=fewest,
                    max_breeders=most,
                    tiers=tiers,
                )
                for role, fewest, most, tiers in RANGES
            ],
            ignore_conflicts=True,
        )
        KpiSettings.objects.bulk_create(
            [KpiSettings(workspace_id=workspace_id)], ignore_conflicts=True
        )
        milestones = dict(
            MilestoneDefinition.objects.filter(workspace_id=workspace_id).values_list("key", "pk")
        )
        OnboardingTarget.objects.bulk_create(
            [
                OnboardingTarget(
                    workspace_id=workspace_id,
                    milestone_id=milestones[key],
                    label=label,
                    within_hours=hours,
                    target_percent=percent,
                    order=order,
                )
                for order, (key, label, hours, percent) in enumerate(TARGETS)
                if key in milestones
            ],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_defaults, migrations.RunPython.noop),
    ]
