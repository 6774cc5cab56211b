"""Zero axe-core violations (WCAG 2.2 AA) on every page, dialog and error state, in light
and dark mode. axe-core comes from tests/a11y (installed by `make install-dev`)."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import Page, expect

from rxapp.testing import Account
from tests.e2e.conftest import enable_2fa, sign_in, sign_in_admin, sign_in_to_profile
from tests.e2e.people import (
    AXE_JS,
    PHONE,
    assert_accessible,
    with_2fa_at_passcode,
    wrong_code,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not AXE_JS.is_file(), reason="run `make install-dev` for axe-core"),
]


@pytest.fixture(params=["light", "dark"])
def scheme(request: pytest.FixtureRequest, page: Page) -> str:
    """Each test runs in light and in dark mode."""
    page.emulate_media(color_scheme=request.param)
    return request.param


def test_sign_in_pages_and_their_errors(page: Page, scheme: str, rxapp_user: Account) -> None:
    page.goto("/login")
    expect(page.get_by_test_id("login-email")).to_be_visible()
    assert_accessible(page, f"login ({scheme})")
    sign_in(page, rxapp_user, password="wrong-password-123")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    assert_accessible(page, f"login error ({scheme})")
    for field in ("login-email", "login-password"):  # either may be what was wrong
        expect(page.get_by_test_id(field)).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_test_id(field)).to_have_accessible_description(
            re.compile("Incorrect email or password")
        )
    page.goto("/no-such-page")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page, f"404 ({scheme})")


def test_passcode_page_and_its_errors(page: Page, scheme: str, rxapp_user: Account) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    expect(page.get_by_test_id("passcode-account")).to_be_visible()
    assert_accessible(page, f"passcode ({scheme})")
    field = page.get_by_test_id("passcode-input")
    expect(field).to_have_attribute("aria-invalid", "false")
    page.get_by_text("Having trouble with your code?").click()
    field.fill(wrong_code(twofa))
    page.get_by_test_id("passcode-submit").click()
    expect(page.get_by_test_id("passcode-error")).to_be_visible()
    assert_accessible(page, f"passcode error ({scheme})")
    # The field says it was refused, and why, when focus lands on it again.
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile("not right"))


def test_profile_and_every_dialog(page: Page, scheme: str, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    assert_accessible(page, f"profile without 2FA ({scheme})")
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()
    assert_accessible(page, f"enable dialog ({scheme})")
    page.get_by_test_id("enroll-code").fill("12345")
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("enroll-error")).to_be_visible()
    assert_accessible(page, f"enable dialog error ({scheme})")
    secret = page.get_by_test_id("enroll-secret").inner_text().replace(" ", "")
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)
    assert_accessible(page, f"backup codes ({scheme})")
    page.get_by_test_id("backup-close").click()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Activated")
    assert_accessible(page, f"profile with 2FA ({scheme})")
    page.get_by_test_id("generate-backup-codes").click()
    expect(page.get_by_test_id("reauth-input")).to_be_visible()
    assert_accessible(page, f"replace codes ({scheme})")
    page.keyboard.press("Escape")
    page.get_by_test_id("disable-2fa").click()
    page.get_by_test_id("disable-code").fill("12345")
    page.get_by_test_id("disable-confirm").click()
    expect(page.get_by_test_id("disable-error")).to_be_visible()
    assert_accessible(page, f"disable dialog error ({scheme})")


def test_all_users_and_the_reset_dialog(
    page: Page, scheme: str, rxapp_admin: Account, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    enable_2fa(page)
    page.get_by_test_id("logout").click()
    sign_in_admin(page, rxapp_admin)
    page.goto("/users")
    expect(page.get_by_test_id("user-row").first).to_be_visible()
    assert_accessible(page, f"all users ({scheme})")
    page.get_by_role("link", name="All users").hover()
    assert_accessible(page, f"all users, link hovered ({scheme})")
    page.get_by_test_id("users-search").fill(rxapp_user.email)
    expect(page.get_by_test_id("users-count")).to_have_text("1")
    page.get_by_test_id("user-reset-2fa").click()
    expect(page.get_by_test_id("reset-confirm")).to_be_visible()
    assert_accessible(page, f"reset dialog ({scheme})")
    page.keyboard.press("Escape")
    page.get_by_test_id("users-search").fill("nobody-matches-this")
    expect(page.get_by_test_id("users-empty")).to_be_visible()
    assert_accessible(page, f"all users, no match ({scheme})")


def test_the_loading_state(page: Page, scheme: str, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.route_web_socket("**/_event**", lambda _ws: None)  # the server never answers
    page.goto("/profile")
    expect(page.get_by_test_id("page-loading")).to_be_visible()
    expect(page.get_by_test_id("twofa-status")).to_have_count(0)
    assert_accessible(page, f"loading ({scheme})")


def test_phone_layouts(page: Page, scheme: str, rxapp_admin: Account) -> None:
    page.set_viewport_size(PHONE)
    sign_in_to_profile(page, rxapp_admin)
    assert_accessible(page, f"profile on a phone ({scheme})")
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()
    assert_accessible(page, f"enable dialog on a phone ({scheme})")
    page.keyboard.press("Escape")
    enable_2fa(page)  # All users is open to admins with 2FA only
    # The activity table wraps its cells to fit the card: where each event came from shows
    # without scrolling sideways.
    expect(page.get_by_test_id("activity-row")).not_to_have_count(0)
    fits = "(t) => t.parentElement.scrollWidth <= t.parentElement.clientWidth"
    assert page.get_by_test_id("activity-table").evaluate(fits)
    page.goto("/users")
    expect(page.get_by_test_id("user-row").first).to_be_visible()
    assert_accessible(page, f"all users on a phone ({scheme})")
