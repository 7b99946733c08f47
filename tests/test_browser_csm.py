"""CSM pages in a real browser: portfolio filters in the URL and the Back button, the
alert count dropping without a reload, and logging a note on a breeder's timeline."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.scope import workspace_scope
from health import services
from health.models import Alert, HealthScore
from tests.factories import PASSWORD, make_breeder

pytestmark = pytest.mark.browser


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/w/**")


@pytest.fixture
def book(cast):
    with workspace_scope(cast.acme):
        model = services.ensure_active_model(cast.acme.pk)
        breeders = {}
        for name, score, band in [
            ("Gecko Garden", "88.0", "green"),
            ("Red Rock Pythons", "31.0", "red"),
        ]:
            breeder = make_breeder(cast.acme, name=name, assigned_csm=cast.bob)
            HealthScore.objects.create(
                workspace=cast.acme,
                breeder=breeder,
                model=model,
                score=Decimal(score),
                band=band,
                coverage=1,
                as_of=timezone.localdate(),
                computed_at=timezone.now(),
            )
            breeders[band] = breeder
        Alert.objects.create(
            workspace=cast.acme,
            breeder=breeders["red"],
            kind="entered_red",
            severity="critical",
            owner=cast.bob,
            title="Health score fell to 31 (red)",
            opened_at=timezone.now(),
        )
    return breeders


def test_portfolio_filter_url_and_back(cast, book, page, artifacts_dir):
    sign_in(page, "bob@example.com")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Band", exact=True).select_option("red")
    page.wait_for_url("**band=red**")
    assert page.get_by_role("link", name="Red Rock Pythons").is_visible()
    assert page.get_by_role("link", name="Gecko Garden").count() == 0
    # Filtering swapped the table in place: the page itself was not reloaded.
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=artifacts_dir / "portfolio-filtered.png", full_page=True)

    # Back within htmx history restores the page from htmx's snapshot, which stores
    # the HTML but not the controls' current values, so the page script sets them
    # from the URL.
    band = page.get_by_label("Band", exact=True)
    sort = page.get_by_label("Sort", exact=True)
    sort.select_option("score")
    page.wait_for_url("**sort=score**")
    page.go_back()
    page.wait_for_url(lambda url: "band=red" in url and "sort=score" not in url)
    expect(band).to_have_value("red")
    expect(sort).to_have_value("name")
    page.go_forward()
    page.wait_for_url("**sort=score**")
    expect(band).to_have_value("red")
    expect(sort).to_have_value("score")
    page.go_back()
    page.go_back()
    page.wait_for_url(re.compile(r"/w/acme/$"))
    expect(band).to_have_value("")
    expect(sort).to_have_value("name")
    assert page.get_by_role("link", name="Gecko Garden").is_visible()
    assert page.evaluate("window.notReloaded") is True

    page.go_forward()
    page.wait_for_url("**band=red**")
    page.goto("/w/acme/breeders/")
    page.go_back()
    page.wait_for_url("**band=red**")
    assert page.get_by_role("heading", name="My portfolio").is_visible()
    assert page.get_by_label("Band", exact=True).input_value() == "red"
    assert page.get_by_role("link", name="Red Rock Pythons").is_visible()

    response = page.goto("/w/acme/?band=red")
    assert response.status == 200
    assert page.get_by_role("heading", name="My portfolio").is_visible()


# Returns the computed display and the rounded bottom edge of each cell in the first
# row that matches a selector. Cells that line up share one bottom edge.
CELL_LAYOUT_JS = """
(selector) => Array.from(document.querySelector(selector).cells).map((cell) => [
  getComputedStyle(cell).display,
  Math.round(cell.getBoundingClientRect().bottom),
])
"""


def test_acknowledge_drops_header_count(cast, book, page, artifacts_dir):
    sign_in(page, "bob@example.com")
    page.get_by_role("link", name="Alerts").first.click()
    page.wait_for_url("**/alerts/")
    count = page.locator("#alert-count .count-pill")
    assert count.inner_text() == "1"
    page.evaluate("window.notReloaded = true")
    page.screenshot(path=artifacts_dir / "alerts-inbox.png", full_page=True)
    cells = page.evaluate(CELL_LAYOUT_JS, ".alerts-table tbody tr")
    assert {display for display, _ in cells} == {"table-cell"}
    assert len({bottom for _, bottom in cells}) == 1, cells
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#alert-count .count-pill")).to_have_text("0")
    assert page.evaluate("window.notReloaded") is True
    assert page.get_by_text("Acknowledged").first.is_visible()


def test_log_note_on_timeline(cast, book, page, artifacts_dir):
    sign_in(page, "bob@example.com")
    page.get_by_role("link", name="Red Rock Pythons").click()
    page.wait_for_selector("#timeline-panel")
    page.wait_for_selector("#health-panel")
    page.get_by_label("Kind").select_option("call")
    page.get_by_label("Summary").fill("Walked through pedigree import")
    page.get_by_label("Details").fill("Will try again this week.")
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Log it").click()
    page.locator(".timeline").get_by_text("Walked through pedigree import").wait_for()
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=artifacts_dir / "breeder-timeline.png", full_page=True)


def test_other_workspace_pages_refused(cast, book, page):
    sign_in(page, "alice@example.com")
    for path in [
        f"/w/acme/breeders/{cast.globex_breeder.public_id}/timeline/",
        f"/w/acme/breeders/{cast.globex_breeder.public_id}/health/",
        "/w/globex/alerts/",
    ]:
        assert page.goto(path).status == 404
