"""The foundation in a real browser: sign in, see the portfolio, stay out of other
workspaces. Screenshots go to test-artifacts/."""

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/w/**")


def test_csm_signs_in_and_sees_portfolio(cast, page, artifacts_dir):
    sign_in(page, "bob@example.com")
    assert page.url.endswith("/w/acme/")
    assert page.get_by_role("heading", name="My portfolio").is_visible()
    assert page.get_by_role("link", name="Acme Python Farm").is_visible()
    page.screenshot(path=artifacts_dir / "portfolio.png", full_page=True)


def test_breeder_search_updates_url_and_back_restores(cast, page, artifacts_dir):
    sign_in(page, "alice@example.com")
    page.get_by_role("link", name="Breeders").click()
    page.wait_for_url("**/breeders/")
    page.get_by_label("Search by name").fill("zzz-no-match")
    page.wait_for_url("**q=zzz-no-match**")
    assert page.get_by_text("No breeders match").is_visible()
    page.screenshot(path=artifacts_dir / "breeders-search.png", full_page=True)
    page.go_back()
    page.wait_for_url("**/breeders/")
    assert page.get_by_role("link", name="Acme Python Farm").is_visible()
    assert page.get_by_role("heading", name="Breeders").is_visible()


def test_other_workspace_breeder_not_found(cast, page, live_server):
    sign_in(page, "alice@example.com")
    response = page.goto(f"/w/acme/breeders/{cast.globex_breeder.public_id}/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    response = page.goto("/w/globex/")
    assert response.status == 404


def test_pages_load_without_console_errors(cast, page):
    errors: list[str] = []

    def record_console(message):
        if message.type == "error":
            errors.append(message.text)

    page.on("console", record_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "alice@example.com")
    for path in ["/w/acme/", "/w/acme/breeders/", "/w/acme/members/", "/w/acme/settings/security/"]:
        page.goto(path)
    assert errors == []


def test_phone_width_keeps_navigation_usable(cast, browser, live_server, artifacts_dir):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, "bob@example.com")
    assert page.get_by_role("link", name="Breeders").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.screenshot(path=artifacts_dir / "portfolio-phone.png", full_page=True)
    context.close()
