"""Keyboard focus and phone-sized screens: where focus goes, and what fits."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from rxapp.testing import Account
from tests.e2e.conftest import enable_2fa, sign_in_admin, sign_in_to_profile
from tests.e2e.people import PHONE

pytestmark = pytest.mark.e2e


def _focused(page: Page) -> str:
    """The focused element's testid, else its id, else its tag."""
    return page.evaluate(
        "(() => { const e = document.activeElement; "
        "return e.dataset.testid || e.id || e.tagName.toLowerCase(); })()"
    )


def test_the_first_tab_reaches_a_skip_link_to_the_main_content(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.reload()  # a fresh load: focus starts at the top of the document
    expect(page.get_by_test_id("twofa-status")).to_be_visible()
    page.keyboard.press("Tab")
    assert _focused(page) == "skip-link"
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.id === 'main'")


def test_escape_returns_focus_to_the_button_that_opened_the_dialog(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.wait_for_function("document.activeElement.dataset.testid === 'enable-2fa'")


def test_closing_the_disable_dialog_returns_focus_to_its_button(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    enable_2fa(page)
    page.get_by_test_id("disable-2fa").click()
    expect(page.get_by_test_id("disable-code")).to_be_focused()
    page.keyboard.press("Escape")
    page.wait_for_function("document.activeElement.dataset.testid === 'disable-2fa'")


def test_the_enable_dialog_starts_at_its_top(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()
    page.wait_for_function("document.activeElement.id === 'enroll-title'")
    expect(page.get_by_test_id("enroll-code")).not_to_be_focused()


def test_after_navigation_focus_is_on_the_main_heading(page: Page, rxapp_admin: Account) -> None:
    sign_in_to_profile(page, rxapp_admin)  # the login page sends the browser on
    page.wait_for_function("document.activeElement.id === 'page-heading'")
    enable_2fa(page)  # All users is open to admins with 2FA only
    page.get_by_role("link", name="All users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("All users")
    page.wait_for_function("document.activeElement.id === 'page-heading'")
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My profile")
    page.wait_for_function("document.activeElement.id === 'page-heading'")


def test_on_a_phone_the_enable_dialog_fits_and_shows_its_error(
    page: Page, rxapp_user: Account
) -> None:
    page.set_viewport_size(PHONE)
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    check = page.get_by_test_id("enroll-check")
    check.scroll_into_view_if_needed()
    box = check.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.get_by_test_id("enroll-code").fill("12345")
    page.get_by_test_id("enroll-code").press("Enter")
    error = page.get_by_test_id("enroll-error")
    expect(error).to_be_visible()
    expect(error).to_be_in_viewport(ratio=1)
    expect(check).to_be_in_viewport(ratio=1)


def test_on_a_phone_all_users_rows_are_compact_and_the_table_scrolls_visibly(
    page: Page, rxapp_admin: Account
) -> None:
    page.set_viewport_size(PHONE)
    sign_in_admin(page, rxapp_admin)
    page.goto("/users")
    row = page.get_by_test_id("user-row").first
    expect(row).to_be_visible()
    box = row.bounding_box()
    assert box is not None and box["height"] < 50, box
    for badge in page.get_by_test_id("user-2fa-status").all():
        assert badge.evaluate("(e) => e.scrollWidth <= e.clientWidth"), badge.inner_text()
    scroller = page.get_by_test_id("users-table-scroll")
    assert scroller.evaluate("(e) => e.scrollWidth > e.clientWidth")
    expect(page.get_by_text("Scroll the table sideways")).to_be_visible()
    # The page itself does not scroll sideways: only the table does.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
