"""Changing the password from the profile, in a real browser against the production build."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from rxapp.testing import Account
from tests.e2e.conftest import (
    LOGIN_URL,
    PROFILE_URL,
    field_emptied,
    sign_in,
    sign_in_to_profile,
    sign_out,
)
from tests.e2e.people import assert_accessible, signed_in_with_a_backup_code

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a much better passphrase ✓"


def _change(page: Page, current: str, new: str) -> None:
    page.get_by_test_id("password-current").fill(current)
    page.get_by_test_id("password-new").fill(new)
    page.get_by_test_id("password-save").click()


def test_a_new_password_works_the_old_one_not_and_other_browsers_are_signed_out(
    browser: Browser, page: Page, base_url: str, rxapp_user: Account
) -> None:
    other = browser.new_context(base_url=base_url).new_page()
    try:
        sign_in_to_profile(other, rxapp_user)
        sign_in_to_profile(page, rxapp_user)
        page.get_by_test_id("change-password").click()
        expect(page.get_by_test_id("password-current")).to_be_focused()
        assert_accessible(page, "the change-password dialog")

        _change(page, "not-the-password", NEW_PASSWORD)
        error = page.get_by_test_id("password-error")
        expect(error).to_have_text("That password is not right.")
        current = page.get_by_test_id("password-current")
        expect(current).to_have_value("")  # to type again, from there
        expect(current).to_be_focused()
        expect(current).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_test_id("password-new")).to_have_value(NEW_PASSWORD)
        expect(page.get_by_test_id("password-new")).to_have_attribute("aria-invalid", "false")

        _change(page, rxapp_user.password, NEW_PASSWORD)
        expect(page.get_by_text("Password changed.")).to_be_visible()
        expect(page.get_by_test_id("password-save")).to_have_count(0)  # the dialog closed
        expect(page).to_have_url(PROFILE_URL)  # this browser stays signed in
        # The other browser's session ended: it goes to the login page by itself.
        expect(other).to_have_url(LOGIN_URL, timeout=15_000)
        notice = other.get_by_test_id("login-notice")
        expect(notice).to_contain_text("You were signed out.")  # not a bare form: told why
        expect(notice).to_have_attribute("role", "status")
        # A new tab of that browser (its dead token still stored) showed nothing: told nothing.
        fresh = other.context.new_page()
        fresh.goto("/login")
        expect(fresh.get_by_test_id("login-email")).to_be_visible()
        fresh.wait_for_function("() => window.__rxLive === true")  # its on_load has run
        expect(fresh.get_by_test_id("login-notice")).to_have_count(0)
        sign_in(other, rxapp_user)  # the old password: the answer takes the notice's place
        expect(other.get_by_test_id("login-error")).to_contain_text("Incorrect")
        expect(notice).to_have_count(0)
    finally:
        other.context.close()

    sign_out(page)
    expect(page.get_by_test_id("login-email")).to_be_visible()
    expect(page.get_by_test_id("login-notice")).to_have_count(0)  # signed out here: nothing to tell
    sign_in(page, rxapp_user)  # the old password
    expect(page.get_by_test_id("login-error")).to_contain_text("Incorrect")
    sign_in(page, rxapp_user, password=NEW_PASSWORD)
    expect(page).to_have_url(PROFILE_URL)
    activity = page.get_by_test_id("activity-table")
    expect(activity).to_contain_text("Password changed")


def test_a_new_password_too_short_is_refused_in_the_dialog(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("change-password").click()
    _change(page, "not the current password", "a long enough one")
    expect(page.get_by_test_id("password-error")).to_contain_text("That password is not right.")
    expect(page.get_by_test_id("password-save")).not_to_have_attribute("aria-busy", "true")
    # The server says why, in place of the last answer (no browser bubble beside it).
    _change(page, rxapp_user.password, "short")
    expect(page.get_by_test_id("password-error")).to_contain_text("at least 8 characters")
    expect(page.get_by_test_id("password-new")).to_have_value("")
    expect(page.get_by_test_id("password-new")).to_be_focused()
    expect(page.get_by_test_id("password-current")).to_have_value(rxapp_user.password)
    expect(page.get_by_test_id("password-current")).to_have_attribute("aria-invalid", "false")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("password-save")).to_have_count(0)
    expect(page.get_by_test_id("change-password")).to_be_focused()  # back where it started


def test_a_try_the_browser_stops_hides_the_last_answer_until_the_next(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("change-password").click()
    error, save = page.get_by_test_id("password-error"), page.get_by_test_id("password-save")
    _change(page, "not the current password", "a long enough one")
    expect(error).to_contain_text("That password is not right.")
    expect(save).not_to_have_attribute("aria-busy", "true")
    # The current password left empty: the browser's own bubble, not the last answer.
    current = page.get_by_test_id("password-current")
    expect(current).to_have_accessible_description(re.compile("That password is not right"))
    _change(page, "", "a long enough one")
    expect(error).to_be_hidden()
    assert current.evaluate("e => !e.validity.valid")
    # Nor does the field read it out (a description names hidden elements too).
    expect(current).not_to_have_accessible_description(re.compile("not right"))
    _change(page, "still not the password", "a long enough one")  # sent: answered again
    expect(error).to_be_visible()
    expect(error).to_contain_text("That password is not right.")
    expect(current).to_have_accessible_description(re.compile("That password is not right"))


def test_with_2fa_a_fresh_second_factor_comes_before_the_new_password(
    page: Page, rxapp_user: Account
) -> None:
    twofa = signed_in_with_a_backup_code(page, rxapp_user)
    # Signed in with a password and one code (which a phisher may have): not enough.
    page.get_by_test_id("change-password").click()
    expect(page.get_by_test_id("reauth-input")).to_be_visible()
    expect(page.get_by_test_id("password-current")).to_have_count(0)
    page.get_by_test_id("reauth-input").fill(twofa.backup_codes[1])
    page.get_by_test_id("reauth-submit").click()
    # Proven: the dialog asks for the current password as well.
    expect(page.get_by_test_id("password-current")).to_be_visible()
    _change(page, rxapp_user.password, NEW_PASSWORD)
    expect(page.get_by_text("Password changed.")).to_be_visible()


def test_a_guessable_new_password_is_refused_with_the_reason(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("change-password").click()
    error = page.get_by_test_id("password-error")
    for guessable, why in [
        ("        ", "it is only spaces"),
        ("Password1!", "it is one of the most common passwords"),
        (rxapp_user.email, "it is made of your email address"),
    ]:
        _change(page, rxapp_user.password, guessable)
        expect(error).to_contain_text(f"That password is too easy to guess: {why}")
        field_emptied(page, "password-new")  # the answer's last step: typed again from here
    page.keyboard.press("Escape")
    sign_out(page)
    sign_in_to_profile(page, rxapp_user)  # the password did not change
