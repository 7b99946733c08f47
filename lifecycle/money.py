"""Amounts in minor units (cents) and their conversion to and from major units."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Currencies whose amounts Stripe counts in whole units (no cents), from Stripe's
# "Zero-decimal currencies" list; every other currency has two decimal places here.
# NOTE: Stripe treats the three-decimal currencies (BHD, JOD, KWD, OMR, TND) as having
# three decimals in amounts but requires the last digit to be 0; they are read as
# three-decimal currencies here.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def decimal_places(currency: str) -> int:
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert an amount in major units (dollars) to minor units (cents), rounding half up."""
    scaled = amount * (Decimal(10) ** decimal_places(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_minor(amount_minor: int | None, currency: str) -> str:
    """Format minor units for people, e.g. 4900 and "usd" as "49.00 USD"."""
    if amount_minor is None:
        return "an unknown amount"
    places = decimal_places(currency)
    major = Decimal(amount_minor) / (Decimal(10) ** places)
    return f"{major:,.{places}f} {currency.upper()}".strip()
