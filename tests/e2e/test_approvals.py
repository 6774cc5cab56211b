"""Approving a sign-in from a device that is already signed in, with number matching, in
two real browsers: approve, a wrong number, deny; the waiting page updates by itself."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from rxapp.models import KnownDevice, User
from rxapp.services import sessions
from rxapp.services.clock import utcnow
from rxapp.services.tokens import token_hash
from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import (
    LOGIN_URL,
    PASSCODE_URL,
    PROFILE_URL,
    enable_2fa,
    sign_in,
    sign_in_to_profile,
)
from tests.e2e.people import expire_the_sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone_and_laptop(
    browser: Browser, page: Page, base_url: str, rxapp_user: Account
) -> tuple[Page, Page]:
    """The account signed in with 2FA on one browser (the phone), and a second browser (the
    laptop) past the password step, waiting on the passcode page."""
    sign_in_to_profile(page, rxapp_user)
    enable_2fa(page)  # this session passed a second factor: it may approve
    laptop = browser.new_context(base_url=base_url).new_page()
    sign_in(laptop, rxapp_user)
    expect(laptop).to_have_url(PASSCODE_URL)
    yield page, laptop
    laptop.context.close()


def _ask(laptop: Page) -> str:
    laptop.get_by_test_id("passcode-request-approval").click()
    number = laptop.get_by_test_id("approval-number")
    expect(number).to_have_text(re.compile(r"^\d{2}$"))
    return number.inner_text()


def _choices(phone: Page) -> list[str]:
    expect(phone.get_by_test_id("approval-request")).to_be_visible()
    choices = phone.get_by_test_id("approval-choice")
    expect(choices).to_have_count(3)
    return choices.all_inner_texts()


def _failures(server: RxappServer, account: Account) -> int:
    with server.db() as db:
        return db.exec(select(User.second_factor_failures).where(User.email == account.email)).one()


def test_picking_the_right_number_signs_the_waiting_browser_in(
    phone_and_laptop: tuple[Page, Page], rxapp_user: Account
) -> None:
    phone, laptop = phone_and_laptop
    number = _ask(laptop)
    choices = _choices(phone)
    assert number in choices and len(set(choices)) == 3
    # The waiting page keeps showing its number while the other device shows the choices.
    laptop.wait_for_function(
        "n => document.querySelector('[data-testid=approval-expires]').textContent !== n",
        arg=laptop.get_by_test_id("approval-expires").inner_text(),
    )
    expect(laptop.get_by_test_id("approval-number")).to_have_text(number)
    expect(phone.get_by_test_id("approval-request")).to_contain_text("127.0.0.1")
    phone.get_by_test_id("approval-choice").filter(has_text=number).click()
    # The waiting page moves on by itself, no reload.
    expect(laptop).to_have_url(PROFILE_URL)
    expect(laptop.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)
    expect(phone.get_by_test_id("approval-request")).to_have_count(0)
    # The approving profile's activity has it at once, no reload.
    activity = phone.get_by_test_id("activity-table")
    expect(activity).to_contain_text("Sign-in approved from a signed-in device")


def test_an_answer_after_the_sign_in_expired_tells_the_waiting_page_why(
    phone_and_laptop: tuple[Page, Page], rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    phone, laptop = phone_and_laptop
    number = _ask(laptop)
    _choices(phone)
    expire_the_sign_in(rxapp_server, rxapp_user)
    phone.get_by_test_id("approval-choice").filter(has_text=number).click()
    expect(laptop).to_have_url(LOGIN_URL)
    expect(laptop.get_by_test_id("login-notice")).to_have_text(
        "Your sign-in expired or was ended. Enter your email and password again."
    )


def _browser_row(server: RxappServer, page: Page) -> KnownDevice | None:
    """The account's row for this browser's device token."""
    digest = token_hash(page.evaluate("() => localStorage.getItem('rxapp_device')"))
    with server.db() as db:
        return db.exec(select(KnownDevice).where(KnownDevice.token_hash == digest)).first()


def test_a_browser_signed_in_by_approval_gets_no_code_throttle_of_its_own(
    phone_and_laptop: tuple[Page, Page], rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    """Whoever holds one signed-in session could otherwise approve their own sign-ins from
    any number of browsers, each with a guessing cap of its own."""
    phone, laptop = phone_and_laptop
    number = _ask(laptop)
    _choices(phone)
    phone.get_by_test_id("approval-choice").filter(has_text=number).click()
    expect(laptop).to_have_url(PROFILE_URL)

    row = _browser_row(rxapp_server, laptop)
    assert row is not None  # known, for its own password throttle ...
    assert row.second_factor_at is None  # ... but its codes count on the account's key


def test_a_wrong_number_ends_the_request_and_counts_as_a_failure(
    phone_and_laptop: tuple[Page, Page], rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    phone, laptop = phone_and_laptop
    number = _ask(laptop)
    wrong = next(choice for choice in _choices(phone) if choice != number)
    phone.get_by_test_id("approval-choice").filter(has_text=wrong).click()
    # Told apart from a Deny on both screens: a slip of the finger, or someone else's sign-in.
    expect(phone.get_by_text("not the number on the signing-in screen")).to_be_visible()
    expect(laptop.get_by_test_id("approval-message")).to_contain_text("did not match")
    expect(laptop.get_by_test_id("approval-number")).to_have_count(0)
    expect(laptop).to_have_url(PASSCODE_URL)
    assert _failures(rxapp_server, rxapp_user) == 1


def test_deny_ends_the_request(
    phone_and_laptop: tuple[Page, Page], rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    phone, laptop = phone_and_laptop
    _ask(laptop)
    _choices(phone)
    phone.get_by_test_id("approval-deny").click()
    expect(laptop.get_by_test_id("approval-message")).to_contain_text("denied")
    expect(laptop).to_have_url(PASSCODE_URL)
    assert _failures(rxapp_server, rxapp_user) == 1


def test_asking_by_keyboard_keeps_the_focus_on_what_follows(
    phone_and_laptop: tuple[Page, Page],
) -> None:
    phone, laptop = phone_and_laptop
    laptop.get_by_test_id("passcode-request-approval").focus()
    laptop.keyboard.press("Enter")
    # The button is replaced by the number to pick: focus goes there, not to the page's top.
    expect(laptop.get_by_test_id("approval-number")).to_have_text(re.compile(r"^\d{2}$"))
    expect(laptop.locator("#approval-waiting")).to_be_focused()
    _choices(phone)
    phone.get_by_test_id("approval-deny").click()
    # And then to what became of the request.
    expect(laptop.get_by_test_id("approval-message")).to_contain_text("denied")
    expect(laptop.get_by_test_id("approval-message")).to_be_focused()
    laptop.keyboard.press("Tab")
    focused = laptop.evaluate("() => document.activeElement.dataset.testid || ''")
    assert focused != "skip-link"


def test_without_a_device_that_passed_2fa_there_is_nothing_to_ask(
    browser: Browser, page: Page, base_url: str, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    page.get_by_test_id("logout").click()
    laptop = browser.new_context(base_url=base_url).new_page()
    try:
        sign_in(laptop, rxapp_user)
        expect(laptop).to_have_url(PASSCODE_URL)
        # A typo first, so the server has answered this page before we look.
        laptop.get_by_test_id("passcode-input").fill("12")
        laptop.get_by_test_id("passcode-submit").click()
        expect(laptop.get_by_test_id("passcode-error")).not_to_be_empty()
        expect(laptop.get_by_test_id("passcode-request-approval")).to_have_count(0)
        laptop.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
        laptop.get_by_test_id("passcode-submit").click()
        expect(laptop).to_have_url(PROFILE_URL)
    finally:
        laptop.context.close()


def test_the_next_request_shows_once_one_is_decided_and_other_devices_close_theirs(
    phone_and_laptop: tuple[Page, Page], browser: Browser, base_url: str, rxapp_user: Account
) -> None:
    phone, first = phone_and_laptop
    second = browser.new_context(base_url=base_url).new_page()
    third = browser.new_context(base_url=base_url).new_page()
    try:
        first_number = _ask(first)
        assert first_number in _choices(phone)
        sign_in(second, rxapp_user)
        expect(second).to_have_url(PASSCODE_URL)
        second_number = _ask(second)
        # The phone keeps the request it shows; once it is decided, the other one shows.
        expect(
            phone.get_by_test_id("approval-choice").filter(has_text=first_number)
        ).to_be_visible()
        phone.get_by_test_id("approval-deny").click()
        expect(first.get_by_test_id("approval-message")).to_contain_text("denied")
        expect(
            phone.get_by_test_id("approval-choice").filter(has_text=second_number)
        ).to_be_visible()
        phone.get_by_test_id("approval-choice").filter(has_text=second_number).click()
        expect(second).to_have_url(PROFILE_URL)
        # Signed in by an approval, the second browser may approve too: both devices are
        # asked, one answers, and the other's dialog closes by itself.
        sign_in(third, rxapp_user)
        expect(third).to_have_url(PASSCODE_URL)
        third_number = _ask(third)
        assert third_number in _choices(phone)
        assert third_number in _choices(second)
        second.get_by_test_id("approval-choice").filter(has_text=third_number).click()
        expect(third).to_have_url(PROFILE_URL)
        expect(phone.get_by_test_id("approval-request")).to_have_count(0)
        expect(second.get_by_test_id("approval-request")).to_have_count(0)
    finally:
        second.context.close()
        third.context.close()


def _focused_in_dialog(page: Page) -> str:
    """The focused element's text when it is inside the approval dialog, else ""."""
    return page.evaluate(
        "() => { const el = document.activeElement;"
        " return el && el.closest('[data-testid=approval-request]') ? el.textContent : ''; }"
    )


def test_the_request_takes_the_keyboard_focus_and_keeps_it_until_answered(
    phone_and_laptop: tuple[Page, Page],
) -> None:
    phone, laptop = phone_and_laptop
    number = _ask(laptop)
    _choices(phone)
    # Focus starts on the safe answer (Enter denies), not on the page behind it.
    expect(phone.get_by_test_id("approval-deny")).to_be_focused()
    # Tab and Shift+Tab go round the dialog's own buttons only.
    seen = set()
    for key in ["Tab"] * 5 + ["Shift+Tab"] * 5:
        phone.keyboard.press(key)
        inside = _focused_in_dialog(phone)
        assert inside, f"{key} left the dialog"
        seen.add(inside.strip())
    assert number in seen and any("Deny" in text for text in seen)
    # Answered by keyboard; then focus is back on the page, not lost on <body>.
    for _ in range(4):
        if _focused_in_dialog(phone).strip() == number:
            break
        phone.keyboard.press("Tab")
    assert _focused_in_dialog(phone).strip() == number
    phone.keyboard.press("Enter")
    expect(laptop).to_have_url(PROFILE_URL)
    expect(phone.get_by_test_id("approval-request")).to_have_count(0)
    phone.wait_for_function(
        "() => document.activeElement && document.activeElement !== document.body"
    )


def test_signing_in_again_withdraws_the_request_made_before(
    phone_and_laptop: tuple[Page, Page], rxapp_user: Account
) -> None:
    phone, laptop = phone_and_laptop
    first = _ask(laptop)
    assert first in _choices(phone)
    # The person gives up on that page, signs in again from the same tab and asks again.
    sign_in(laptop, rxapp_user)
    expect(laptop).to_have_url(PASSCODE_URL)
    expect(laptop.get_by_test_id("approval-message")).to_have_count(0)
    expect(phone.get_by_test_id("approval-request")).to_have_count(0)  # withdrawn
    again = _ask(laptop)
    expect(phone.get_by_test_id("approval-choice").filter(has_text=again)).to_have_count(1)
    phone.get_by_test_id("approval-choice").filter(has_text=again).click()
    expect(laptop).to_have_url(PROFILE_URL)
    expect(laptop.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)


def test_a_sign_in_started_over_begins_without_the_old_request(
    phone_and_laptop: tuple[Page, Page], rxapp_user: Account
) -> None:
    phone, laptop = phone_and_laptop
    _ask(laptop)
    _choices(phone)
    laptop.get_by_role("button", name="Use a different account").click()
    expect(laptop).to_have_url(LOGIN_URL)
    expect(phone.get_by_test_id("approval-request")).to_have_count(0)
    laptop.get_by_test_id("login-email").fill(rxapp_user.email)
    laptop.get_by_test_id("login-password").fill(rxapp_user.password)
    laptop.get_by_test_id("login-submit").click()
    expect(laptop).to_have_url(PASSCODE_URL)
    expect(laptop.get_by_test_id("passcode-request-approval")).to_be_visible()
    # Nothing of the abandoned request: no "expired", no number, for as long as it would live.
    laptop.wait_for_timeout(1_500)
    expect(laptop.get_by_test_id("approval-message")).to_have_count(0)
    expect(laptop.get_by_test_id("approval-number")).to_have_count(0)


def test_signing_out_in_one_tab_takes_the_others_to_the_login_page(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    other_tab = page.context.new_page()
    other_tab.goto("/profile")
    expect(other_tab.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)
    other_tab.get_by_test_id("logout").click()
    expect(other_tab).to_have_url(LOGIN_URL)
    # The first tab follows by itself, without a click: no account data left on screen.
    expect(page).to_have_url(LOGIN_URL, timeout=5_000)
    expect(page.get_by_test_id("profile-email")).to_have_count(0)


def test_a_request_on_screen_goes_when_the_session_ends(
    phone_and_laptop: tuple[Page, Page], rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    phone, laptop = phone_and_laptop
    _ask(laptop)
    _choices(phone)
    with rxapp_server.db() as db:  # ended elsewhere: the idle limit, an admin, a new password
        user = db.exec(select(User).where(User.email == rxapp_user.email)).one()
        sessions.revoke_all_sessions(db, user.id, now=utcnow(), keep_session_id=None)
        db.commit()
    expect(phone).to_have_url(LOGIN_URL, timeout=5_000)
    expect(phone.get_by_test_id("approval-request")).to_have_count(0)
    expect(phone.get_by_test_id("profile-email")).to_have_count(0)


def test_a_closed_waiting_page_stops_costing_the_server(
    phone_and_laptop: tuple[Page, Page], rxapp_server: RxappServer
) -> None:
    phone, laptop = phone_and_laptop
    _ask(laptop)
    _choices(phone)
    tab = laptop.evaluate("window.sessionStorage.getItem('token')")
    laptop.context.close()  # while its request still waits, for two more minutes
    phone.wait_for_timeout(1_500)
    since = rxapp_server.log_size()
    phone.wait_for_timeout(3_000)
    # Nothing more is done for it: Reflex logs the tab's id for each update it cannot send.
    assert tab not in rxapp_server.log_path.read_bytes()[since:].decode("utf-8", "replace")
