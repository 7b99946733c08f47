"""Reading Stripe objects of both API shapes: MRR normalisation, period end, links."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from lifecycle.money import format_minor, to_minor
from lifecycle.stripe_objects import (
    StripePayloadError,
    invoice_subscription_id,
    monthly_amount,
    subscription_state,
)
from tests import stripe_payloads as sp


@pytest.mark.parametrize(
    ("interval", "count", "unit_amount", "quantity", "expected"),
    [
        ("month", 1, 2900, 1, 2900),
        ("month", 3, 9000, 1, 3000),
        ("year", 1, 120000, 1, 10000),
        ("year", 1, 120000, 4, 40000),
        ("week", 1, 1000, 1, 4333),  # 1000 × 52 / 12 = 4333.33
        ("week", 2, 1000, 3, 6500),
        ("day", 1, 100, 1, 3042),  # 100 × 365 / 12 = 3041.67
    ],
)
def test_mrr_normalised_per_interval(interval, count, unit_amount, quantity, expected):
    price = sp.price(unit_amount=unit_amount, interval=interval, interval_count=count)
    state = subscription_state(sp.subscription("sub_1", "cus_1", prices=[(price, quantity)]))
    assert state.mrr_minor == expected


def test_mrr_sums_items_and_skips_metered():
    seats = sp.price(unit_amount=1500)
    yearly_addon = sp.price(unit_amount=24000, interval="year")
    metered = sp.price(unit_amount=5, usage_type="metered")
    obj = sp.subscription("sub_1", "cus_1", prices=[(seats, 3), (yearly_addon, 1), (metered, 1)])
    assert subscription_state(obj).mrr_minor == 4500 + 2000


def test_current_shape_period_end_from_items():
    early = int(datetime(2030, 1, 10, tzinfo=UTC).timestamp())
    late = int(datetime(2030, 1, 20, tzinfo=UTC).timestamp())
    obj = sp.subscription("sub_1", "cus_1", prices=[(sp.price(), 1), (sp.price(), 1)])
    obj["items"]["data"][0]["current_period_end"] = early
    obj["items"]["data"][1]["current_period_end"] = late
    assert "current_period_end" not in obj
    assert subscription_state(obj).current_period_end == datetime(2030, 1, 20, tzinfo=UTC)


def test_legacy_shape_with_items_uses_item_plans():
    end = int(datetime(2030, 2, 1, tzinfo=UTC).timestamp())
    plan = sp.legacy_plan(amount=60000, interval="year", nickname="Legacy yearly")
    obj = sp.legacy_subscription("sub_1", "cus_1", plan=plan, quantity=2, period_end=end)
    state = subscription_state(obj)
    assert state.mrr_minor == 10000
    assert state.plan == "Legacy yearly"
    assert state.current_period_end == datetime(2030, 2, 1, tzinfo=UTC)


def test_legacy_shape_without_items_uses_plan_amount():
    plan = sp.legacy_plan(amount=2500)
    obj = sp.legacy_subscription("sub_1", "cus_1", plan=plan, quantity=2, with_items=False)
    assert "items" not in obj
    state = subscription_state(obj)
    assert state.mrr_minor == 5000
    assert state.quantity == 2


def test_cancellation_details_read():
    obj = sp.subscription(
        "sub_1",
        "cus_1",
        status="canceled",
        cancellation_details={"reason": "payment_failed", "feedback": None, "comment": None},
    )
    state = subscription_state(obj)
    assert state.cancellation_reason == "payment_failed"
    assert state.cancellation_feedback == ""


def test_expanded_customer_object_accepted():
    obj = sp.subscription("sub_1", "cus_1")
    obj["customer"] = sp.customer("cus_1")
    assert subscription_state(obj).customer_id == "cus_1"


def test_subscription_without_status_rejected():
    obj = sp.subscription("sub_1", "cus_1")
    del obj["status"]
    with pytest.raises(StripePayloadError, match="status"):
        subscription_state(obj)


def test_invoice_subscription_both_shapes():
    assert invoice_subscription_id(sp.invoice("cus_1", "sub_new")) == "sub_new"
    assert invoice_subscription_id(sp.legacy_invoice("cus_1", "sub_old")) == "sub_old"
    one_off = sp.invoice("cus_1", "sub_x")
    one_off["parent"] = None
    assert invoice_subscription_id(one_off) == ""


def test_monthly_amount_rejects_unknown_interval():
    with pytest.raises(StripePayloadError, match="fortnight"):
        monthly_amount(Decimal(100), quantity=1, interval="fortnight", interval_count=1)


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "text"),
    [
        (Decimal("49.99"), "usd", 4999, "49.99 USD"),
        (Decimal("1200"), "jpy", 1200, "1,200 JPY"),
        (Decimal("1.234"), "kwd", 1234, "1.234 KWD"),
        (Decimal("0.005"), "eur", 1, "0.01 EUR"),
    ],
)
def test_minor_units_per_currency(amount, currency, minor, text):
    assert to_minor(amount, currency) == minor
    assert format_minor(minor, currency) == text
