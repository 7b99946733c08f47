"""The score badge: a breeder's score in its band's colour, with the band in words."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString

from health.models import Band, HealthScore

NOT_SCORED = SafeString('<span class="muted">Not scored yet</span>')


def rounded(value: Decimal, places: int = 0) -> Decimal:
    """Round half up, as Django's floatformat filter does (format() rounds half to even)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def score_badge(score: object) -> SafeString:
    """Return the badge HTML of a score, or "Not scored yet" for anything else.

    Templates pass "" for a breeder without a score row, so any value that is not a
    `HealthScore` with a score counts as not scored.
    A provisional score (its inputs cover too little of the model's weight) gets an
    asterisk, and the hover title and the screen-reader text name it provisional.
    """
    if not isinstance(score, HealthScore) or score.score is None:
        return NOT_SCORED
    band_label = str(Band(score.band).label) if score.band in Band.values else ""
    if not score.provisional:
        return format_html(
            '<span class="badge band-{}" title="{}">{}</span> <span class="band-label">{}</span>',
            score.band,
            band_label,
            rounded(score.score),
            band_label,
        )
    return format_html(
        '<span class="badge band-{}" title="{}, provisional: inputs cover {} of the weight">{}'
        '<span aria-hidden="true">*</span><span class="visually-hidden"> (provisional)</span>'
        '</span> <span class="band-label">{}</span>',
        score.band,
        band_label,
        rounded(score.coverage, 2),
        rounded(score.score),
        band_label,
    )
