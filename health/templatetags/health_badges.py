from django import template
from django.utils.safestring import SafeString

from health import badges
from health.models import HealthScore

register = template.Library()


@register.simple_tag
def score_badge(score: HealthScore | None | str) -> SafeString:
    """Render a breeder's score badge: `{% score_badge breeder.health_score %}`."""
    return badges.score_badge(score)
