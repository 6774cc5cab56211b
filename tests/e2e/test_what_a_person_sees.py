"""What a person sees: no wrong first paint, honest errors, stale notices gone, backup codes
kept in the person's hands, All users readable, a real 404 page, local times."""

from __future__ import annotations

import contextlib
import re
import time
import urllib.request
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, Route, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import update
from sqlmodel import select

from rxapp.models import AuditEvent, AuthSession, PendingLogin, User
from rxapp.services import admin
from rxapp.services.clock import utcnow
from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import (
    LOGIN_URL,
    PASSCODE_URL,
    PROFILE_URL,
    enable_2fa,
    generate_backup_codes,
    keep_trying,
    sign_in,
    sign_in_admin,
    sign_in_to_profile,
    sign_out,
)
from tests.e2e.people import (
    expire_the_sign_in,
    sample_every_20ms,
    samples,
    signed_in_with_a_backup_code,
    user_id,
    with_2fa_at_passcode,
    wrong_code,
)

pytestmark = pytest.mark.e2e


def _write(server: RxappServer, statement: Any) -> None:
    """Set up a state the UI reaches only slowly (a wait, a nearly voided sign-in)."""
    with server.db() as db:
        db.exec(statement)
        db.commit()


def _codes_blocked(
    server: RxappServer, account: Account, *, failures: int, for_: timedelta
) -> None:
    """The account's codes after `failures` wrong ones, blocked for `for_` from now."""
    _write(
        server,
        update(User)
        .where(User.id == user_id(server, account.email))
        .values(second_factor_failures=failures, second_factor_blocked_until=utcnow() + for_),
    )


# --- first paint ---------------------------------------------------------------------------


def test_a_signed_out_visitor_never_sees_the_profile(page: Page) -> None:
    sample_every_20ms(page, "twofa-status", "enable-2fa", "logout")
    page.goto("/profile")
    expect(page).to_have_url(LOGIN_URL)
    seen = samples(page)
    assert seen, "the sampler ran"
    assert not [s for s in seen if s["twofa-status"] or s["enable-2fa"] or s["logout"]]


def test_a_2fa_user_sees_activated_from_the_first_paint(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    enable_2fa(page)
    sample_every_20ms(page, "twofa-status")
    page.reload()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Activated")
    shown = {text for s in samples(page) for text in s["twofa-status"]}
    assert shown == {"Activated"}
    # Before the account arrived, the page said it was loading, not "Not activated".
    assert any("Loading your profile" in s["text"] for s in samples(page))


def test_after_logout_the_tab_shows_nothing_of_the_previous_user(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    enable_2fa(page)
    sign_out(page)
    sample_every_20ms(page, "twofa-status", "profile-email")
    page.goto("/profile")
    expect(page).to_have_url(LOGIN_URL)
    assert not [s for s in samples(page) if s["twofa-status"] or s["profile-email"]]
    assert not [s for s in samples(page) if rxapp_user.email in s["text"]]


def test_all_users_never_shows_zero_matches_before_the_data(
    page: Page, rxapp_admin: Account
) -> None:
    sign_in_admin(page, rxapp_admin)
    sample_every_20ms(page, "users-count", "users-empty")
    page.goto("/users")
    expect(page.get_by_test_id("user-row").first).to_be_visible()
    seen = samples(page)
    assert not [s for s in seen if s["users-empty"] or "0" in s["users-count"]]
    assert any("Loading users" in s["text"] for s in seen)


# --- honest errors -------------------------------------------------------------------------


def test_each_passcode_problem_has_its_own_message(page: Page, rxapp_user: Account) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    error = page.get_by_test_id("passcode-error")
    field, submit = page.get_by_test_id("passcode-input"), page.get_by_test_id("passcode-submit")

    field.fill("12 34")
    submit.click()
    expect(error).to_have_text(re.compile(r"^Enter the 6-digit code"))

    field.fill(twofa.enrolment_code)  # right, but its time step was spent on enabling
    submit.click()
    expect(error).to_contain_text("already used")
    expect(error).not_to_contain_text("clock")


def test_a_wrong_code_says_so_without_repeating_the_help(page: Page, rxapp_user: Account) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    page.get_by_test_id("passcode-input").fill(wrong_code(twofa))
    page.get_by_test_id("passcode-submit").click()
    error = page.get_by_test_id("passcode-error")
    expect(error).to_contain_text("That code is not right.")
    expect(error).to_contain_text("4 tries left before you must sign in again")
    expect(error).not_to_contain_text("phone")


def test_a_code_from_a_fast_clock_stays_a_plain_failure_at_sign_in(
    page: Page, rxapp_user: Account
) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=8))
    page.get_by_test_id("passcode-submit").click()
    error = page.get_by_test_id("passcode-error")
    expect(error).to_contain_text("That code is not right.")
    expect(error).not_to_contain_text("clock")


def test_a_wait_says_how_long_and_what_follows(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    _codes_blocked(rxapp_server, rxapp_user, failures=3, for_=timedelta(minutes=2))
    page.get_by_test_id("passcode-input").fill(twofa.code())
    page.get_by_test_id("passcode-submit").click()
    error = page.get_by_test_id("passcode-error")
    expect(error).to_contain_text("Try again in 2 minutes.")
    expect(error).not_to_contain_text("Try again in 2 minutes. 4 tries left")


def test_a_wait_counts_down_to_the_moment_a_code_is_taken(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    # Two wrong codes already: a code now comes too early, counts, and a 4-second wait follows.
    _codes_blocked(rxapp_server, rxapp_user, failures=2, for_=timedelta(seconds=2))
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("passcode-submit").click()
    expect(page.get_by_test_id("passcode-error")).to_contain_text("Try again in 4 seconds.")
    field = page.get_by_test_id("passcode-input")
    expect(field).to_have_accessible_description(re.compile("Try again in 4 seconds"))
    left = page.get_by_test_id("passcode-wait")
    expect(left).to_have_attribute("role", "timer")  # silent while it ticks
    expect(left).to_have_text(re.compile(r"^[34] seconds left\.$"))
    expect(left).to_have_text(re.compile(r"^[12] seconds? left\.$"))
    over = "The wait is over: you can try again now."
    expect(left).to_have_text(over, timeout=6000)
    said = page.locator(".sr-only[aria-live=polite]", has_text=over)
    expect(said).to_have_count(1)
    # The error's "Try again in 4 seconds." is past: it no longer sits above that line,
    # nor does the field read it out as its description.
    expect(page.get_by_test_id("passcode-error")).to_be_hidden()
    expect(field).not_to_have_accessible_description(re.compile("Try again"))
    # And it is true: the code is taken at once.
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("passcode-submit").click()
    expect(page).to_have_url(PROFILE_URL)
    # Nothing of it is left for the next sign-in in this tab.
    sign_out(page)
    sign_in(page, rxapp_user)
    expect(page.get_by_test_id("passcode-input")).to_be_visible()
    expect(page.get_by_test_id("passcode-wait")).to_have_count(0)
    expect(said).to_have_count(0)


def test_the_code_page_tells_a_wait_still_running_from_an_earlier_sign_in(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    # An earlier sign-in ended after wrong codes; its wait is still running.
    _codes_blocked(rxapp_server, rxapp_user, failures=5, for_=timedelta(seconds=6))
    sign_in(page, rxapp_user)  # a new sign-in: the code page comes with the running wait
    error, left = page.get_by_test_id("passcode-error"), page.get_by_test_id("passcode-wait")
    expect(error).to_contain_text(re.compile(r"Try again in [3-6] seconds\."))
    expect(left).to_have_text(re.compile(r"^[1-6] seconds? left\.$"))
    page.reload()  # the page loaded afresh tells it too
    expect(error).to_contain_text(re.compile(r"Try again in [3-6] seconds\."))
    expect(left).to_have_text("The wait is over: you can try again now.", timeout=8000)
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("passcode-submit").click()
    expect(page).to_have_url(PROFILE_URL)


def test_the_owner_is_told_at_the_next_sign_in_what_an_admin_changed(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    with_2fa_at_passcode(page, rxapp_user)
    with rxapp_server.db() as db:
        admin.reset_2fa(
            db, user_id(rxapp_server, rxapp_user.email), now=utcnow(), actor_id=None, via="test"
        )
    sign_in(page, rxapp_user)  # the password alone now
    expect(page).to_have_url(PROFILE_URL)
    notice = page.get_by_test_id("profile-notice")
    expect(notice).to_contain_text(
        re.compile(r"^An admin reset your two-factor authentication on \w{3} \d{1,2}, \d{4}\.")
    )
    expect(notice).to_contain_text("If you did not ask for this, contact your admin.")
    sign_out(page)
    sign_in(page, rxapp_user)  # told once: not at the sign-in after
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)
    expect(notice).to_have_count(0)


def test_a_right_code_sent_just_after_a_wrong_one_is_checked_not_refused(
    page: Page, rxapp_user: Account
) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    page.get_by_test_id("passcode-input").fill(wrong_code(twofa))
    page.get_by_test_id("passcode-submit").click()
    expect(page.get_by_test_id("passcode-error")).to_contain_text("That code is not right.")
    # At once, inside the 1-second backoff that follows a wrong code (a typo corrected):
    # the server waits the moment out and checks it, instead of asking for it again.
    sent = time.monotonic()
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("passcode-submit").click()
    expect(page).to_have_url(PROFILE_URL)
    assert time.monotonic() - sent < 4


def test_the_login_pages_countdown_goes_with_its_error(page: Page, rxapp_user: Account) -> None:
    error = page.get_by_test_id("login-error")
    for _ in range(12):  # five wrong passwords are free, then each must wait
        sign_in(page, rxapp_user, password="not-the-password")
        expect(error).not_to_be_empty()
        if "Too many failed attempts" in (error.text_content() or ""):
            break
    expect(page.get_by_test_id("login-wait")).to_contain_text(re.compile(r"left\.|wait is over"))
    # Another error, of the form's own: the countdown goes with the wait's message.
    page.get_by_test_id("login-email").fill("not-an-address@")
    page.get_by_test_id("login-password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    expect(error).to_contain_text("valid email")
    expect(page.get_by_test_id("login-wait")).to_have_count(0)


def test_the_disable_dialog_counts_a_wait_down_too(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    _codes_blocked(rxapp_server, rxapp_user, failures=2, for_=timedelta(seconds=4))
    page.get_by_test_id("disable-2fa").click()
    page.get_by_test_id("disable-code").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("disable-confirm").click()
    expect(page.get_by_test_id("disable-error")).to_contain_text(
        re.compile(r"Try again in [1-4] seconds?\.")
    )
    left = page.get_by_test_id("disable-wait")
    expect(left).to_have_attribute("role", "timer")
    expect(left).to_have_text(re.compile(r"^[1-4] seconds? left\.$"))
    over = "The wait is over: you can try again now."
    expect(left).to_have_text(over, timeout=6000)
    expect(page.locator(".sr-only[aria-live=polite]", has_text=over)).to_have_count(1)
    # And it is true: the same code, refused unchecked before, is taken now.
    page.get_by_test_id("disable-code").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("disable-confirm").click()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Not activated")


def test_the_password_asked_again_counts_a_wait_down(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("change-password").click()
    current, save = page.get_by_test_id("password-current"), page.get_by_test_id("password-save")
    error = page.get_by_test_id("password-error")
    for attempt in range(12):  # five wrong passwords are free, then each must wait
        current.fill(f"not-the-password-{attempt}")
        page.get_by_test_id("password-new").fill("a brand new password")
        save.click()
        expect(save).not_to_have_attribute("aria-busy", "true")
        if "Too many failed attempts" in (error.text_content() or ""):
            break
    expect(error).to_contain_text("Too many failed attempts. Try again in")
    expect(page.get_by_test_id("password-wait")).to_have_text(
        re.compile(r"^\d+ seconds? left\.$|^The wait is over")
    )
    page.keyboard.press("Escape")
    expect(current).to_have_count(0)
    page.get_by_test_id("change-password").click()  # opened again: nothing of it is left
    expect(current).to_be_visible()
    expect(error).to_have_count(0)
    expect(page.get_by_test_id("password-wait")).to_have_count(0)


def test_an_answer_without_a_wait_shows_no_countdown(page: Page, rxapp_user: Account) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    page.get_by_test_id("passcode-input").fill(wrong_code(twofa))
    page.get_by_test_id("passcode-submit").click()
    expect(page.get_by_test_id("passcode-error")).to_contain_text("That code is not right.")
    expect(page.get_by_test_id("passcode-wait")).to_have_count(0)


def test_a_tab_shown_again_shows_what_another_tab_changed(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    other = page.context.new_page()  # a second tab of the same browser: the same session
    other.goto("/profile")
    expect(other.get_by_test_id("twofa-status")).to_have_text("Not activated")
    enable_2fa(page)
    expect(page.get_by_test_id("twofa-status")).to_have_text("Activated")
    # Back to the other tab (what the browser tells a page shown again), no reload.
    keep_trying(
        lambda: other.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))"),
        lambda seconds: expect(other.get_by_test_id("twofa-status")).to_have_text(
            "Activated", timeout=seconds * 1000
        ),
        timeout=15,
    )
    other.close()


def test_a_button_from_before_a_change_elsewhere_says_what_happened(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    other = page.context.new_page()
    other.goto("/profile")
    expect(other.get_by_test_id("twofa-status")).to_have_text("Not activated")
    enable_2fa(page)
    # The other tab still offers to enable 2FA: pressing it explains, and shows it is on.
    other.get_by_test_id("enable-2fa").focus()
    other.keyboard.press("Enter")
    expect(other.get_by_text("An authenticator app is already set up")).to_be_visible()
    expect(other.get_by_test_id("twofa-status")).to_have_text("Activated")
    # The button pressed is gone: the keyboard goes on from the card's heading.
    expect(other.locator("#twofa-heading")).to_be_focused()
    other.close()


def test_the_activity_advice_fits_the_account(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    advice = page.get_by_test_id("activity-advice")
    expect(advice).to_contain_text("change your password, turn on two-factor authentication")
    expect(advice).not_to_contain_text("backup codes")  # it has none
    expect(advice).to_contain_text("tell your admin")
    enable_2fa(page)
    expect(advice).to_contain_text("generate new backup codes")
    expect(advice).not_to_contain_text("turn on two-factor")


def test_a_voided_sign_in_says_so_and_offers_a_new_one(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    account = user_id(rxapp_server, rxapp_user.email)
    voided_next = update(PendingLogin).where(PendingLogin.user_id == account).values(failures=4)
    _write(rxapp_server, voided_next)
    page.get_by_test_id("passcode-input").fill(wrong_code(twofa))
    page.get_by_test_id("passcode-submit").click()
    expect(page.get_by_test_id("passcode-error")).to_contain_text("this sign-in has ended")
    expect(page.get_by_test_id("passcode-input")).to_have_count(0)
    page.get_by_test_id("passcode-sign-in-again").click()
    expect(page).to_have_url(LOGIN_URL)


def _told_the_sign_in_ended(page: Page, account: Account) -> None:
    expect(page).to_have_url(LOGIN_URL)
    notice = page.get_by_test_id("login-notice")
    expect(notice).to_have_text(
        "Your sign-in expired or was ended. Enter your email and password again."
    )
    expect(notice).to_have_attribute("role", "status")
    # Answered by signing in again: the notice goes with the password step.
    page.get_by_test_id("login-email").fill(account.email)
    page.get_by_test_id("login-password").fill(account.password)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(PASSCODE_URL)
    expect(notice).to_have_count(0)


def test_a_code_sent_after_the_sign_in_expired_says_why_on_the_sign_in_page(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
    expire_the_sign_in(rxapp_server, rxapp_user)
    # The page may notice first (its own check when the tab is shown or refreshed, as seen
    # in CI): either way the person lands on the sign-in page, told why.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.get_by_test_id("passcode-submit").click(timeout=3000)
    _told_the_sign_in_ended(page, rxapp_user)


def test_the_code_page_reloaded_after_the_sign_in_expired_says_why_too(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    with_2fa_at_passcode(page, rxapp_user)
    expire_the_sign_in(rxapp_server, rxapp_user)
    page.reload()
    _told_the_sign_in_ended(page, rxapp_user)


def test_a_setup_left_open_past_the_fresh_proof_asks_for_it_again_after_a_reload(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()
    account = user_id(rxapp_server, rxapp_user.email)
    _write(
        rxapp_server,
        update(AuthSession)
        .where(AuthSession.user_id == account)
        .values(fresh_proof_at=utcnow() - timedelta(hours=7)),
    )
    page.reload()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Not activated")
    expect(page.get_by_test_id("enroll-secret")).to_have_count(0)
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("reauth-input")).to_be_visible()  # the password first
    expect(page.get_by_test_id("enroll-secret")).to_have_count(0)


def test_the_enable_dialog_diagnoses_a_phone_clock_that_is_off(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    secret = page.get_by_test_id("enroll-secret").inner_text().replace(" ", "")
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(secret).at(time.time() + 8 * 30))
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("enroll-error")).to_contain_text(
        "Your phone's clock seems about 4 minutes fast"
    )


# --- notices and backup codes ----------------------------------------------------------------


def test_the_backup_code_notice_goes_once_it_is_out_of_date(
    page: Page, rxapp_user: Account
) -> None:
    twofa = signed_in_with_a_backup_code(page, rxapp_user)
    notice = page.get_by_test_id("profile-notice")
    expect(notice).to_contain_text("4")
    generate_backup_codes(page, twofa.backup_codes[1])
    page.get_by_test_id("backup-close").click()
    expect(page.get_by_test_id("backup-remaining")).to_have_text("5")
    expect(notice).to_have_count(0)


def test_the_backup_code_notice_goes_when_2fa_is_turned_off(
    page: Page, rxapp_user: Account
) -> None:
    twofa = signed_in_with_a_backup_code(page, rxapp_user)
    notice = page.get_by_test_id("profile-notice")
    expect(notice).to_be_visible()
    page.get_by_test_id("disable-2fa").click()
    page.get_by_test_id("disable-code").fill(twofa.backup_codes[1])
    page.get_by_test_id("disable-confirm").click()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Not activated")
    expect(notice).to_have_count(0)


def test_new_codes_ask_once_for_a_code_saying_the_saved_ones_stop_working(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    enable_2fa(page)  # its last step closes the first batch's dialog
    # That dialog's focus return (to the page, a moment after it closed) settles first: a
    # key pressed before it would land wherever it puts the focus.
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.wait_for_timeout(300)
    button = page.get_by_test_id("generate-backup-codes")
    button.focus()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    ask = page.get_by_role("dialog", name="Replace your backup codes?")
    expect(ask).to_contain_text(
        "You still have 5 unused backup codes. New codes replace them: the ones you saved "
        "stop working at once."
    )
    expect(page.get_by_test_id("reauth-submit")).to_have_text("Replace codes")
    # One dialog, and the keyboard stays in it: typing goes to the code, Tab to its buttons
    # (a closed dialog's focus return used to come late and take focus out of this one).
    expect(page.get_by_test_id("reauth-input")).to_be_focused()
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("reauth-input")).to_be_focused()
    page.keyboard.press("Tab")
    expect(ask.locator(":focus")).to_have_count(1)
    # Cancelled: nothing changes, and focus is back on the button.
    page.keyboard.press("Escape")
    expect(ask).to_have_count(0)
    expect(page.get_by_test_id("generate-backup-codes")).to_be_focused()
    expect(page.get_by_test_id("backup-code")).to_have_count(0)
    expect(page.get_by_test_id("backup-remaining")).to_have_text("5")


def test_more_time_extends_the_reveal_on_the_server(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    generate_backup_codes(page, twofa.backup_codes[0])
    countdown = page.get_by_test_id("backup-countdown")
    expect(countdown).to_have_text(re.compile(r"^(2[0-9]|30)$"))
    page.get_by_test_id("backup-extend").click()
    expect(countdown).to_have_text(re.compile(r"^(5[0-9]|60)$"))
    # A reconnect reads the deadline back from the database: the extension holds.
    page.reload()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)
    expect(countdown).to_have_text(re.compile(r"^(4[0-9]|5[0-9]|60)$"))


@pytest.mark.slow
def test_after_the_reveal_the_dialog_says_the_codes_are_gone_and_what_to_do(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    secret = page.get_by_test_id("enroll-secret").inner_text().replace(" ", "")
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)
    expect(page.get_by_test_id("backup-expired")).to_be_visible(timeout=40_000)
    dialog = page.get_by_role("dialog")
    expect(dialog).not_to_contain_text("save your backup codes")
    expect(dialog).to_contain_text("Generate backup codes")


# --- All users -----------------------------------------------------------------------------


def test_counts_use_the_right_plural_and_the_admin_cannot_reset_their_own_row(
    page: Page, rxapp_admin: Account
) -> None:
    sign_in_admin(page, rxapp_admin)
    page.goto("/users")
    page.get_by_test_id("users-search").fill(rxapp_admin.email)
    expect(page.get_by_test_id("users-count")).to_have_text("1")
    expect(page.get_by_role("status").filter(has_text="matching")).to_contain_text(
        "1 matching user "
    )
    row = page.get_by_test_id("user-row")
    expect(row.get_by_test_id("user-2fa-status")).to_have_text("Activated")
    expect(row.get_by_test_id("user-reset-2fa")).to_have_count(0)


def test_columns_keep_their_place_when_the_filter_changes(
    page: Page, rxapp_admin: Account, rxapp_user: Account
) -> None:
    assert rxapp_user.email  # someone without 2FA, for the "Not activated" filter
    sign_in_admin(page, rxapp_admin)
    page.goto("/users")
    expect(page.get_by_test_id("user-row").first).to_be_visible()

    def header_edges() -> list[float]:
        return page.locator("[data-testid=users-table] thead th").evaluate_all(
            "(cells) => cells.map((c) => Math.round(c.getBoundingClientRect().left))"
        )

    everyone = header_edges()
    page.get_by_test_id("users-filter").select_option("not_activated")
    expect(page).to_have_url(re.compile(r"twofa=not_activated"))
    expect(page.get_by_test_id("user-2fa-status").first).to_have_text("Not activated")
    assert header_edges() == everyone


# --- 404, favicon, canonical URLs ----------------------------------------------------------


def test_an_unknown_address_gets_a_designed_404_page(page: Page) -> None:
    page.goto("/no-such-page")
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    page.get_by_test_id("not-found-home").click()
    expect(page).to_have_url(LOGIN_URL)


def test_the_favicon_is_served(rxapp_server: RxappServer) -> None:
    with urllib.request.urlopen(f"{rxapp_server.url}/favicon.ico") as response:
        assert response.status == 200
        assert response.read(4) == b"\x00\x00\x01\x00"


# --- who, and when -------------------------------------------------------------------------


def test_the_passcode_page_names_the_account_masked(page: Page, rxapp_user: Account) -> None:
    with_2fa_at_passcode(page, rxapp_user)
    local, domain = rxapp_user.email.split("@")
    expect(page.get_by_test_id("passcode-account")).to_have_text(f"{local[0]}…@{domain}")
    expect(page.locator("body")).not_to_contain_text(rxapp_user.email)


def test_times_are_in_the_browsers_time_zone_and_say_which(
    browser: Browser, rxapp_server: RxappServer, rxapp_user: Account
) -> None:
    context = browser.new_context(base_url=rxapp_server.url, timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        sign_in(page, rxapp_user)
        expect(page).to_have_url(PROFILE_URL)
        expect(page.get_by_test_id("last-sign-in")).to_contain_text("GMT+9")
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/login", "/profile", "/users", "/passcode"])
def test_a_direct_page_load_needs_no_redirect(rxapp_server: RxappServer, path: str) -> None:
    with urllib.request.urlopen(f"{rxapp_server.url}{path}") as response:
        assert response.status == 200
        assert response.geturl() == f"{rxapp_server.url}{path}"


# Notes every value the submit button's aria-busy takes, from the click on, with the answer
# counter at that moment.
_BUSY_RECORDER = """(testid) => {
  const button = document.querySelector(`[data-testid="${testid}"]`);
  const seen = (window.__busy = []);
  window.__busyRecorder?.disconnect();
  window.__busyRecorder = new MutationObserver(() =>
    seen.push([button.getAttribute('aria-busy'), button.getAttribute('data-answered')]));
  window.__busyRecorder.observe(button, {attributes: true, attributeFilter: ['aria-busy']});
}"""


def _busy_then_answered(page: Page, testid: str, error_testid: str, message: str) -> None:
    """The button is busy from the click until the error arrives, then busy no more."""
    page.evaluate(_BUSY_RECORDER, testid)
    page.get_by_test_id(testid).click()
    expect(page.get_by_test_id(error_testid)).to_contain_text(message)
    expect(page.get_by_test_id(testid)).not_to_have_attribute("aria-busy", "true")
    (busy, asked), (done, answered) = page.evaluate("window.__busy")
    assert (busy, done) == ("true", None)
    assert answered != asked  # busy until the server's answer arrived, not a moment less


def test_a_right_password_shows_progress_until_the_next_page_shows(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    """On a slow network the next page's scripts take a while after the server's answer:
    the button goes on showing progress meanwhile (and takes no second submit), never back
    to idle with the form as if nothing happened; `aria-busy` ends with the answer, as
    flows that wait for it expect."""
    held: list[Route] = []
    releasing = False

    def hold(route: Route) -> None:
        if releasing:
            route.continue_()
        else:
            held.append(route)

    page.route(re.compile(r"/assets/_profile_[^/]*\.js$"), hold)
    sign_in(page, rxapp_user)
    submit = page.get_by_test_id("login-submit")
    for _ in range(200):  # the server has answered once the browser asks for /profile
        if held:
            break
        page.wait_for_timeout(25)
    assert held, "the profile's scripts were never asked for"
    expect(submit).to_have_attribute("data-leaving", "true")
    expect(submit).not_to_have_attribute("aria-busy", "true")
    page.wait_for_timeout(500)  # past the spinner's delay
    expect(page).to_have_url(LOGIN_URL)
    assert submit.evaluate("(el) => getComputedStyle(el, '::after').content") != "none"
    submit.click()  # an impatient second click: nothing is sent
    page.wait_for_timeout(500)

    releasing = True
    for route in held:
        route.continue_()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)
    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == rxapp_user.email)).one()
        sign_ins = select(AuditEvent).where(
            AuditEvent.user_id == user.id, AuditEvent.event == "sign_in_ok"
        )
        assert len(db.exec(sign_ins).all()) == 1  # one click, one sign-in


def test_the_sign_in_buttons_are_busy_until_the_server_answers(
    page: Page, rxapp_user: Account
) -> None:
    twofa = with_2fa_at_passcode(page, rxapp_user)
    page.get_by_test_id("passcode-input").fill(wrong_code(twofa))
    _busy_then_answered(page, "passcode-submit", "passcode-error", "That code is not right.")

    page.goto("/login")
    page.get_by_test_id("login-email").fill(rxapp_user.email)
    page.get_by_test_id("login-password").fill("not-the-password")
    _busy_then_answered(page, "login-submit", "login-error", "Incorrect email or password.")
    # The same answer twice changes no text: the button still comes back, and the alert is
    # inserted anew, so that screen readers say it again.
    page.evaluate("window.__firstAlert = document.querySelector('[data-testid=login-error]')")
    page.get_by_test_id("login-password").fill("not-the-password")
    _busy_then_answered(page, "login-submit", "login-error", "Incorrect email or password.")
    assert page.evaluate("window.__firstAlert.isConnected") is False
    expect(page.get_by_test_id("login-error")).to_have_attribute("role", "alert")
