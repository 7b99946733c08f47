from django import template

register = template.Library()


@register.filter
def plan_label(code: str | None) -> str:
    """Turn a billing plan code such as "breeder_pro" into a label: "Breeder Pro".

    Underscores and hyphens become spaces and each word gets a capital first letter.
    The rest of each word keeps its case, so price ids and names such as "PRO" stay
    as they are.
    """
    if not code:
        return ""
    words = code.replace("_", " ").replace("-", " ").split()
    return " ".join(word[:1].upper() + word[1:] for word in words)
