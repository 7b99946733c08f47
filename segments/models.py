"""CSM roles and portfolio ranges, and the onboarding targets of the KPI page."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import ngettext

from accounts.models import Membership, Tier, WorkspaceOwned
from accounts.roles import Permission, role_has_permission
from lifecycle.models import MilestoneDefinition


class CsmRole(models.TextChoices):
    """The kind of portfolio a CSM carries."""

    ENTERPRISE = "enterprise", "Enterprise CSM"
    GROWTH = "growth", "Growth CSM"
    DIGITAL_SUCCESS = "digital_success", "Digital success"


# Digital success works one shared queue (the unassigned breeders of its tiers), so its
# members have no personal portfolio and no size range.
POOLED_ROLES = frozenset({CsmRole.DIGITAL_SUCCESS})

# (min, max, tiers) per role: the defaults a new workspace starts with.
DEFAULT_PORTFOLIO_RANGES: dict[str, tuple[int | None, int | None, list[str]]] = {
    CsmRole.ENTERPRISE: (50, 75, [Tier.ENTERPRISE]),
    CsmRole.GROWTH: (200, 300, [Tier.PROFESSIONAL]),
    CsmRole.DIGITAL_SUCCESS: (None, None, [Tier.HOBBYIST, Tier.NEW_BREEDER]),
}


class PortfolioRange(WorkspaceOwned):
    """How many breeders, and of which tiers, one CSM of a role should carry."""

    csm_role = models.CharField(max_length=20, choices=CsmRole.choices)
    min_breeders = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fewest breeders; empty for the pooled role."
    )
    max_breeders = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most breeders; empty for the pooled role."
    )
    tiers = ArrayField(
        models.CharField(max_length=20, choices=Tier.choices),
        default=list,
        blank=True,
        help_text="Tiers this role works, comma-separated, e.g. enterprise or "
        "hobbyist,new_breeder.",
    )

    class Meta(WorkspaceOwned.Meta):
        ordering = ["csm_role"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "csm_role"], name="portfolio_range_one_per_role"
            ),
        ]

    def __str__(self) -> str:
        if self.is_pooled:
            return f"{self.get_csm_role_display()}: pooled queue"
        return f"{self.get_csm_role_display()}: {self.min_breeders}–{self.max_breeders}"

    @property
    def is_pooled(self) -> bool:
        return self.csm_role in POOLED_ROLES

    def clean(self) -> None:
        if self.is_pooled:
            if self.min_breeders is not None or self.max_breeders is not None:
                raise ValidationError(
                    "Digital success is a pooled queue without personal portfolios; leave "
                    "the fewest and most breeders empty."
                )
            return
        errors = {}
        if self.min_breeders is None:
            errors["min_breeders"] = "Enter the fewest breeders a CSM of this role carries."
        if self.max_breeders is None:
            errors["max_breeders"] = "Enter the most breeders a CSM of this role carries."
        if errors:
            raise ValidationError(errors)
        assert self.min_breeders is not None and self.max_breeders is not None
        if not 0 < self.min_breeders <= self.max_breeders:
            raise ValidationError(
                {
                    "max_breeders": f"The range {self.min_breeders}–{self.max_breeders} is "
                    "invalid: the fewest must be at least 1 and at most the most."
                }
            )


class CsmProfile(WorkspaceOwned):
    """The CSM role of one member, which decides the range their portfolio is held to.

    Members without a profile carry no range. The capacity page lists them as "CSM role
    not set" when they have breeders or the CSM staff role.
    """

    membership = models.OneToOneField(
        Membership, on_delete=models.CASCADE, related_name="csm_profile"
    )
    csm_role = models.CharField(max_length=20, choices=CsmRole.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        verbose_name = "CSM profile"

    def __str__(self) -> str:
        return f"{self.membership.user}: {self.get_csm_role_display()}"

    def clean(self) -> None:
        membership = getattr(self, "membership", None)
        if membership is not None and not role_has_permission(
            membership.role, Permission.EDIT_BREEDERS
        ):
            raise ValidationError(
                {
                    "membership": f"{membership.user} is a {membership.get_role_display()}, a "
                    "role that does not work breeders; change the role first."
                }
            )


class OnboardingTarget(WorkspaceOwned):
    """A KPI target: the share of a signup cohort that reaches a milestone in time.

    Time counts from the signup moment, so "within 48 hours" is 48 elapsed hours
    whatever the breeder's time zone, unlike the milestone's own target day.
    """

    milestone = models.ForeignKey(MilestoneDefinition, on_delete=models.CASCADE)
    label = models.CharField(max_length=100, help_text="Column heading, e.g. Profile setup.")
    within_hours = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text="Hours after signup, e.g. 48 or 168."
    )
    target_percent = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Share of the cohort that should reach it, in percent.",
    )
    order = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta(WorkspaceOwned.Meta):
        ordering = ["order", "within_hours"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "milestone"], name="onboarding_target_one_per_milestone"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.target_percent}% within {self.within_hours} h"

    @property
    def window_label(self) -> str:
        """Return the window in whole days from 3 days up, else in hours ("48 hours")."""
        if self.within_hours >= 72 and self.within_hours % 24 == 0:
            return f"{self.within_hours // 24} days"
        hours = self.within_hours
        return ngettext("%(hours)d hour", "%(hours)d hours", hours) % {"hours": hours}


# (milestone key, label, hours, percent): the onboarding targets a workspace starts with.
DEFAULT_ONBOARDING_TARGETS = [
    ("account_setup", "Profile setup", 48, 90),
    ("first_pedigree", "First pedigree", 7 * 24, 70),
    ("community", "Community", 14 * 24, 50),
]


class KpiSettings(WorkspaceOwned):
    """Workspace-wide KPI targets other than the onboarding ones."""

    workspace = models.OneToOneField(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="kpi_settings"
    )
    monthly_churn_target_percent = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=5,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Monthly churn should stay below this percentage.",
    )

    class Meta(WorkspaceOwned.Meta):
        verbose_name_plural = "KPI settings"

    def __str__(self) -> str:
        return f"monthly churn below {self.monthly_churn_target_percent}%"
