"""Manager pages in a real browser: reassigning a breeder on the capacity page with the
keyboard, the KPI page, and the breeder 360 and portfolio at desktop and phone width.

Data fixtures come before `page` in each signature, so the rows are written before
Playwright starts its event loop in this thread.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Breeder, Membership, Tier
from accounts.roles import Role
from accounts.scope import workspace_scope
from health import services as health_services
from health.models import HealthScore, HealthSnapshot
from lifecycle.models import MilestoneAchievement, MilestoneDefinition, Subscription
from segments.models import CsmProfile, CsmRole
from tests.factories import make_breeder, make_membership, make_user
from tests.test_browser_foundation import sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


def record_errors(page):
    errors: list[str] = []

    def record_console(message):
        if message.type == "error":
            errors.append(message.text)

    page.on("console", record_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


# Elements that stick out past the right edge of the viewport without an ancestor that
# clips or scrolls them, which is what makes a page scroll sideways.
SIDEWAYS_OVERFLOW_JS = """
() => Array.from(document.querySelectorAll("body *"))
  .filter((element) => {
    if (element.getBoundingClientRect().right <= window.innerWidth) return false;
    for (let parent = element.parentElement; parent; parent = parent.parentElement) {
      if (getComputedStyle(parent).overflowX !== "visible") return false;
    }
    return true;
  })
  .slice(0, 5)
  .map((element) => `${element.tagName}.${element.className}: ${element.textContent.slice(0, 40)}`)
"""


def assert_no_sideways_scroll(page):
    """The page itself never scrolls sideways; wide tables scroll inside their box."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], page.evaluate(SIDEWAYS_OVERFLOW_JS)


def screenshots(page, artifacts_dir, name):
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=artifacts_dir / f"{name}.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts_dir / f"{name}-phone.png", full_page=True)
    assert_no_sideways_scroll(page)
    page.set_viewport_size(DESKTOP)


@pytest.fixture
def team(cast):
    """Dana, a growth CSM; Bob, an enterprise CSM; a professional breeder nobody works."""
    dana = make_user("dana@example.com", full_name="Dana CSM")
    make_membership(cast.acme, dana, Role.CSM)
    with workspace_scope(cast.acme):
        model = health_services.ensure_active_model(cast.acme.pk)
        for user, csm_role in [(cast.bob, CsmRole.ENTERPRISE), (dana, CsmRole.GROWTH)]:
            CsmProfile.objects.create(
                workspace=cast.acme,
                membership=Membership.objects.get(user=user),
                csm_role=csm_role,
            )
        loose = make_breeder(cast.acme, name="Loose Monitor", tier=Tier.PROFESSIONAL)
        HealthScore.objects.create(
            workspace=cast.acme,
            breeder=loose,
            model=model,
            score=Decimal("45.0"),
            band="red",
            coverage=1,
            as_of=timezone.localdate(),
            computed_at=timezone.now(),
        )
        make_breeder(cast.acme, name="Pool Gecko", tier=Tier.HOBBYIST)
    return {"dana": dana, "loose": loose}


def test_reassign_breeder_with_keyboard(team, cast, page, artifacts_dir):
    errors = record_errors(page)
    sign_in(page, "alice@example.com")
    page.get_by_role("link", name="Capacity").click()
    page.wait_for_url("**/capacity/")
    assert page.get_by_role("heading", name="Team capacity").is_visible()
    capacity = page.locator("#capacity-table")
    dana_row = capacity.get_by_role("row").filter(has_text="Dana CSM")
    expect(dana_row.locator("td").nth(1)).to_have_text("0")
    screenshots(page, artifacts_dir, "capacity")
    page.evaluate("window.notReloaded = true")

    choice = page.get_by_label("Assign Loose Monitor to")
    choice.focus()
    choice.select_option(label="Dana CSM (0 of 200–300)")
    page.keyboard.press("Tab")
    button = page.get_by_role("button", name="Assign Loose Monitor")
    expect(button).to_be_focused()
    # The keyboard focus ring is visible.
    assert button.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    page.keyboard.press("Enter")

    expect(page.locator("#assign-status")).to_have_text("Loose Monitor is now with Dana CSM.")
    row = page.locator(f"#assign-row-{team['loose'].public_id}")
    expect(row.get_by_role("cell").nth(2)).to_have_text("Dana CSM")
    expect(dana_row.locator("td").nth(1)).to_have_text("1")
    # htmx swapped the row in place and gave focus back to the same button.
    assert page.evaluate("window.notReloaded") is True
    expect(page.get_by_role("button", name="Assign Loose Monitor")).to_be_focused()
    page.screenshot(path=artifacts_dir / "capacity-reassigned.png", full_page=True)
    with workspace_scope(cast.acme):
        assert Breeder.objects.get(pk=team["loose"].pk).assigned_csm == team["dana"]
    assert errors == []


@pytest.fixture
def kpi_data(cast):
    """Ten recent signups with milestones, four weekly snapshots and a subscription each."""
    now = timezone.now()
    with workspace_scope(cast.acme):
        model = health_services.ensure_active_model(cast.acme.pk)
        setup = MilestoneDefinition.objects.get(key="account_setup")
        pedigree = MilestoneDefinition.objects.get(key="first_pedigree")
        for number in range(10):
            breeder = make_breeder(
                cast.acme, name=f"Cohort {number}", signed_up_at=now - timedelta(days=20 + number)
            )
            for milestone, hours, reached in [(setup, 20, number < 9), (pedigree, 100, number < 5)]:
                if reached:
                    MilestoneAchievement.objects.create(
                        workspace=cast.acme,
                        breeder=breeder,
                        milestone=milestone,
                        status="on_time",
                        due_at=breeder.signed_up_at + timedelta(days=milestone.target_day),
                        achieved_at=breeder.signed_up_at + timedelta(hours=hours),
                    )
            for week in range(4):
                band = ["green", "yellow", "red"][(number + week) % 3]
                HealthSnapshot.objects.create(
                    workspace=cast.acme,
                    breeder=breeder,
                    day=timezone.localdate() - timedelta(weeks=week),
                    model=model,
                    score=Decimal("70.0"),
                    band=band,
                    coverage=1,
                )
            Subscription.objects.create(
                workspace=cast.acme,
                breeder=breeder,
                external_id=f"sub_{number}",
                source="import",
                status="active",
                started_at=now - timedelta(days=400),
            )


def test_kpi_page(kpi_data, cast, page, artifacts_dir):
    errors = record_errors(page)
    sign_in(page, "alice@example.com")
    page.get_by_role("link", name="KPIs").click()
    page.wait_for_url("**/kpis/")
    cohorts = page.get_by_role(
        "table", name="Onboarding milestones reached on time, per signup month"
    )
    assert cohorts.get_by_role(
        "columnheader", name="Profile setup target 90% within 48 hours"
    ).is_visible()
    # 9 of 10 reached profile setup in 48 hours (met), 5 of 10 a pedigree in 7 days (below).
    assert cohorts.get_by_role("cell", name="90% Met 9 of 10").first.is_visible()
    assert cohorts.get_by_role("cell", name="50% Below 5 of 10").first.is_visible()
    chart = page.get_by_role("img", name="Share of breeders per health band, weekly")
    assert chart.is_visible()
    assert page.get_by_role("table", name="Breeders per band, weekly").is_visible()
    assert page.get_by_role("table", name="Monthly churn").is_visible()
    screenshots(page, artifacts_dir, "kpis")
    assert chart.is_visible()
    assert errors == []


@pytest.fixture
def breeder_360(cast):
    with workspace_scope(cast.acme):
        model = health_services.ensure_active_model(cast.acme.pk)
        for back in range(30):
            if back in (9, 10):
                continue
            HealthSnapshot.objects.create(
                workspace=cast.acme,
                breeder=cast.acme_breeder,
                day=timezone.localdate() - timedelta(days=back),
                model=model,
                score=Decimal(60 + back % 7),
                band="yellow",
                coverage=1,
            )
        HealthScore.objects.create(
            workspace=cast.acme,
            breeder=cast.acme_breeder,
            model=model,
            score=Decimal("60.0"),
            band="yellow",
            coverage=1,
            trend_7d=Decimal("-3.0"),
            as_of=timezone.localdate(),
            computed_at=timezone.now(),
        )
        Subscription.objects.create(
            workspace=cast.acme,
            breeder=cast.acme_breeder,
            external_id="sub_360",
            source="stripe",
            status="past_due",
            plan="Breeder Pro",
            mrr_minor=4900,
            currency="usd",
            interval="month",
            current_period_end=timezone.now() + timedelta(days=12),
        )
    return cast.acme_breeder


def test_portfolio_and_breeder_360(breeder_360, cast, page, artifacts_dir):
    errors = record_errors(page)
    sign_in(page, "bob@example.com")
    sparkline = page.locator(".portfolio-table svg.sparkline")
    expect(sparkline).to_have_count(1)
    assert sparkline.get_attribute("aria-label").startswith("Score ")
    screenshots(page, artifacts_dir, "portfolio-sparklines")

    page.get_by_role("link", name="Acme Python Farm").click()
    panel = page.locator("#subscription-panel")
    panel.wait_for()
    page.locator("#timeline-panel").wait_for()
    assert panel.get_by_text("Past due: the last payment failed").is_visible()
    assert panel.get_by_text("49.00 USD").is_visible()
    screenshots(page, artifacts_dir, "breeder-360")
    assert errors == []


def test_other_workspace_pages_refused(team, cast, page):
    sign_in(page, "alice@example.com")
    assert page.goto("/w/globex/capacity/").status == 404
    assert page.goto("/w/globex/kpis/").status == 404
    path = f"/w/acme/breeders/{cast.globex_breeder.public_id}/subscription/"
    assert page.goto(path).status == 404
