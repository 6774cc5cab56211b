"""The login page works from its prerendered HTML: shown and typed into before its scripts
have run, and a submit made that early is neither sent natively (the password would be in
a URL) nor lost: it goes through once the page is live."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from rxapp.testing import Account
from tests.e2e.conftest import PROFILE_URL

pytestmark = pytest.mark.e2e


def _hold_entry_script(page: Page) -> list[Route]:
    """Hold back the script that hydrates the page; continue the returned routes to let it
    through."""
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/assets/entry.client-*.js", hold)
    return held


def test_the_form_takes_input_and_a_submit_before_its_scripts_run(
    page: Page, rxapp_user: Account
) -> None:
    held = _hold_entry_script(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/login", wait_until="domcontentloaded")
    email = page.get_by_test_id("login-email")
    expect(email).to_be_visible()
    expect(email).to_be_enabled()
    email.fill(rxapp_user.email)
    page.get_by_test_id("login-password").fill(rxapp_user.password)
    page.get_by_test_id("login-password").press("Enter")
    page.wait_for_timeout(500)
    assert "password" not in page.url and "email" not in page.url
    assert not [url for url in requested if rxapp_user.password in url]
    assert held, "the page's scripts were not held back"
    for route in held:
        route.continue_()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)


def test_with_scripts_off_a_submit_never_puts_the_password_in_a_url(
    browser: Browser, base_url: str, rxapp_user: Account
) -> None:
    """No script at all: the browser submits the form natively, by POST (nothing is signed
    in without the app's scripts, but the password is not left in history or logs)."""
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    page.goto("/login")
    page.get_by_test_id("login-email").fill(rxapp_user.email)
    page.get_by_test_id("login-password").fill(rxapp_user.password)
    with page.expect_request(lambda request: request.is_navigation_request()) as submitted:
        page.get_by_test_id("login-password").press("Enter")
    assert submitted.value.method == "POST"
    assert not [request.url for request in sent if rxapp_user.password in request.url]
    context.close()
