"""Team capacity: each CSM's portfolio against the range of their CSM role.

Everything on the capacity page comes from a fixed number of queries: one grouped
count of breeders per (CSM, tier, band), one for the members with their users and CSM
profiles, and one for the ranges. None of them grows with the number of CSMs or
breeders shown, though the grouped count reads every breeder of the workspace.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count

from accounts.models import Breeder, Membership, Tier
from accounts.roles import Role
from health.models import Band
from segments.models import CsmRole, PortfolioRange
from segments.services import can_carry_breeders, portfolio_ranges

BAND_KEYS = [*Band.values, "none"]
BAND_LABELS = {**dict(Band.choices), "none": "Not scored"}


class Load:
    """Position of a portfolio's size relative to its role's range."""

    UNDER = "under"
    WITHIN = "within"
    OVER = "over"
    POOLED = "pooled"
    NO_ROLE = "no_role"


LOAD_LABELS = {
    Load.UNDER: "Below range",
    Load.WITHIN: "Within range",
    Load.OVER: "Above range",
    Load.POOLED: "Works the pool",
    Load.NO_ROLE: "CSM role not set",
}


@dataclass
class BreederCounts:
    """Breeder counts of one portfolio (or of the unassigned breeders) by tier and band."""

    by_tier: Counter[str] = field(default_factory=Counter)
    by_band: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_band.values())

    def bands(self) -> list[tuple[str, str, int, int]]:
        """Return (band, label, count, whole percent) for every band, unscored last."""
        total = self.total
        return [
            (
                band,
                BAND_LABELS[band],
                self.by_band[band],
                round(100 * self.by_band[band] / total) if total else 0,
            )
            for band in BAND_KEYS
        ]

    def bar(self) -> list[tuple[str, float, float]]:
        """Return (band, x, width) of a stacked bar 100 units wide, empty bands left out."""
        total = self.total
        parts = []
        x = 0.0
        for band in BAND_KEYS:
            if not self.by_band[band]:
                continue
            width = 100 * self.by_band[band] / total
            parts.append((band, round(x, 2), round(width, 2)))
            x += width
        return parts

    def outside_tiers(self, tiers: list[str]) -> int:
        """Count the breeders whose tier is not one of `tiers` (untiered ones included)."""
        return sum(count for tier, count in self.by_tier.items() if tier not in tiers)


@dataclass
class CsmLoad:
    """One member's portfolio against the range of their CSM role."""

    membership: Membership
    csm_role: str
    portfolio_range: PortfolioRange | None
    counts: BreederCounts

    @property
    def load(self) -> str:
        if self.portfolio_range is None:
            return Load.NO_ROLE
        if self.portfolio_range.is_pooled:
            return Load.POOLED
        total = self.counts.total
        if (
            self.portfolio_range.min_breeders is not None
            and total < self.portfolio_range.min_breeders
        ):
            return Load.UNDER
        if (
            self.portfolio_range.max_breeders is not None
            and total > self.portfolio_range.max_breeders
        ):
            return Load.OVER
        return Load.WITHIN

    @property
    def load_label(self) -> str:
        return LOAD_LABELS[self.load]

    @property
    def csm_role_label(self) -> str:
        return CsmRole(self.csm_role).label if self.csm_role else "Not set"

    @property
    def outside_tiers(self) -> int:
        if self.portfolio_range is None:
            return 0
        return self.counts.outside_tiers(self.portfolio_range.tiers)


@dataclass
class TeamCapacity:
    csms: list[CsmLoad]
    unassigned: BreederCounts
    ranges: dict[str, PortfolioRange]

    @property
    def pool_tiers(self) -> list[str]:
        return sorted({tier for row in self.ranges.values() if row.is_pooled for tier in row.tiers})

    @property
    def pool_tier_labels(self) -> list[str]:
        labels = dict(Tier.choices)
        return [str(labels.get(tier, tier)) for tier in self.pool_tiers]

    @property
    def pool_queue(self) -> int:
        """Count the unassigned breeders of the pooled role's tiers: the pool's queue."""
        return sum(self.unassigned.by_tier[tier] for tier in self.pool_tiers)

    @property
    def needing_csm(self) -> list[tuple[str, str, int]]:
        """Return (tier, label, count) of unassigned breeders outside the pool's tiers.

        These breeders are meant to have a personal CSM (or have no tier yet, so no
        one knows), and nobody works them.
        """
        labels = {**dict(Tier.choices), "": "No tier"}
        return [
            (tier, labels.get(tier, tier), count)
            for tier, count in sorted(self.unassigned.by_tier.items())
            if tier not in self.pool_tiers and count
        ]

    @property
    def pool_members(self) -> list[CsmLoad]:
        return [row for row in self.csms if row.load == Load.POOLED]


def breeder_counts() -> dict[int | None, BreederCounts]:
    """Count the breeders of the workspace in scope per CSM user id (None: unassigned)."""
    rows = (
        Breeder.objects.order_by()
        .values("assigned_csm_id", "tier", "health_score__band")
        .annotate(total=Count("pk"))
    )
    counts: dict[int | None, BreederCounts] = {}
    for row in rows:
        entry = counts.setdefault(row["assigned_csm_id"], BreederCounts())
        entry.by_tier[row["tier"] or ""] += row["total"]
        entry.by_band[row["health_score__band"] or "none"] += row["total"]
    return counts


def team_members() -> list[Membership]:
    """Return the workspace's members with their users and CSM profiles, by name."""
    return list(
        Membership.objects.select_related("user", "csm_profile").order_by(
            "user__full_name", "user__email"
        )
    )


def csm_role_of(membership: Membership) -> str:
    profile = getattr(membership, "csm_profile", None)
    return profile.csm_role if profile is not None else ""


def team_capacity(workspace_id: int) -> TeamCapacity:
    """Build the capacity rows: members who are CSMs, have a CSM role, or have breeders."""
    counts = breeder_counts()
    ranges = portfolio_ranges(workspace_id)
    rows = []
    for membership in team_members():
        csm_role = csm_role_of(membership)
        portfolio = counts.get(membership.user_id, BreederCounts())
        if membership.role != Role.CSM and not csm_role and not portfolio.total:
            continue
        rows.append(
            CsmLoad(
                membership=membership,
                csm_role=csm_role,
                portfolio_range=ranges.get(csm_role) if csm_role else None,
                counts=portfolio,
            )
        )
    return TeamCapacity(csms=rows, unassigned=counts.get(None, BreederCounts()), ranges=ranges)


def assignable_members(capacity: TeamCapacity) -> list[CsmLoad]:
    """Return the capacity rows of members who may be given breeders, for the choices."""
    return [row for row in capacity.csms if can_carry_breeders(row.membership)]
