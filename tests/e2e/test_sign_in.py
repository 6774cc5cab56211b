"""Signing in and out in a real browser against the production build."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlmodel import select

from rxapp.components.early_submit import RELEASE_BUSY_BUTTONS
from rxapp.models import AuditEvent, AuthSession, User
from rxapp.services import audit, throttle
from rxapp.services.clock import utcnow
from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import (
    LOGIN_URL,
    PASSCODE_URL,
    PROFILE_URL,
    HeldUpdates,
    enable_2fa,
    field_emptied,
    sign_in,
    sign_in_to_profile,
)
from tests.e2e.people import with_2fa_at_passcode

pytestmark = pytest.mark.e2e


WRONG = "Incorrect email or password."
MUST_WAIT = "Too many failed attempts. Try again in"


def _answer_to(page: Page, password: str, *, timeout: float = 15) -> str:
    """Type `password` into the login form on this page and submit it; wait for the server's
    answer: "signed in" (the profile opens), or the error shown (it also empties the field,
    so the text read is the answer to this password, not one left from before)."""
    field = page.get_by_test_id("login-password")
    field_emptied(page, "login-password")  # no earlier answer can empty what is typed now
    field.fill(password)
    page.get_by_test_id("login-submit").click()
    deadline = time.monotonic() + timeout
    while not PROFILE_URL.search(page.url):
        try:  # the page may be leaving for the profile right now: then read nothing
            emptied = field.input_value(timeout=250) == ""
            answer = page.get_by_test_id("login-error").inner_text(timeout=250) if emptied else ""
        except PlaywrightTimeoutError:
            answer = ""
        if answer:
            return answer
        assert time.monotonic() < deadline, "the server did not answer the sign-in"
        page.wait_for_timeout(50)  # polling: lets Playwright process the page meanwhile
    return "signed in"


def test_a_user_signs_in_and_sees_their_profile(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    expect(page.get_by_test_id("logout")).to_be_visible()


def test_enter_in_the_password_field_submits(page: Page, rxapp_user: Account) -> None:
    page.goto("/login")
    page.get_by_test_id("login-email").fill(rxapp_user.email)
    page.get_by_test_id("login-password").fill(rxapp_user.password)
    page.get_by_test_id("login-password").press("Enter")
    expect(page).to_have_url(PROFILE_URL)


def test_the_email_is_matched_in_any_case(page: Page, rxapp_user: Account) -> None:
    sign_in(page, Account(rxapp_user.email.upper(), rxapp_user.password))
    expect(page).to_have_url(PROFILE_URL)


def test_wrong_password_and_unknown_email_show_the_same_message(
    page: Page, rxapp_user: Account
) -> None:
    sign_in(page, rxapp_user, password="not-the-password")
    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    field_emptied(page, "login-password")
    wrong_password_message = error.inner_text()

    page.get_by_test_id("login-email").fill("nobody-" + rxapp_user.email)
    assert _answer_to(page, "whatever-password") == wrong_password_message
    assert "incorrect" in wrong_password_message.lower()
    expect(page).to_have_url(LOGIN_URL)


def test_a_submit_before_the_page_has_loaded_waits_and_keeps_its_answer(
    page: Page, rxapp_user: Account
) -> None:
    """Reflex answers a page's hydration with its on_load events; the login page's on_load
    clears the form's message. A submit sent before them would be answered, then wiped."""
    relay = HeldUpdates(page)
    page.goto("/login")
    submit = page.get_by_test_id("login-submit")
    # React has taken the page over (its props are on the button); the hydration is unanswered.
    page.wait_for_function(
        "(el) => Object.keys(el).some((k) => k.startsWith('__reactProps'))",
        arg=submit.element_handle(),
    )
    page.get_by_test_id("login-email").fill(rxapp_user.email)
    page.get_by_test_id("login-password").fill("not-the-password")
    submit.click()
    expect(page.locator("form[data-rx-held='1']")).to_have_count(1)
    assert relay.submits == 0  # held in the page until its on_load has run

    relay.release()
    page.wait_for_function("() => window.__rxLive === true")
    error = page.get_by_test_id("login-error")
    expect(error).to_have_text("Incorrect email or password.")
    expect(submit).not_to_have_attribute("aria-busy", "true")  # answered, and still shown
    expect(error).to_have_text("Incorrect email or password.")
    assert relay.submits == 1


# Notes when the button became busy and when its spinner first showed (polled every frame).
_SPINNER_RECORDER = """(button) => {
  const seen = (window.__spinner = {});
  new MutationObserver(() => { seen.busy ??= performance.now(); })
    .observe(button, {attributes: true, attributeFilter: ['aria-busy']});
  const frame = () => {
    if (seen.busy && getComputedStyle(button, '::after').visibility === 'visible') {
      seen.shown = performance.now();
    } else requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""


def _live_login_filled_wrong(page: Page, account: Account) -> HeldUpdates:
    """The live login page filled with a wrong password, its websocket relayed (not held)."""
    relay = HeldUpdates(page, holding=False)
    page.goto("/login")
    page.wait_for_function("() => window.__rxLive === true")
    page.get_by_test_id("login-email").fill(account.email)
    page.get_by_test_id("login-password").fill("not-the-password")
    return relay


def test_a_slow_answer_shows_a_spinner_only_after_a_moment(page: Page, rxapp_user: Account) -> None:
    """The button is busy at once; its spinner shows only once the wait is noticeable."""
    relay = _live_login_filled_wrong(page, rxapp_user)
    submit = page.get_by_test_id("login-submit")
    submit.evaluate(_SPINNER_RECORDER)
    relay.holding = True
    submit.click()
    expect(submit).to_have_attribute("aria-busy", "true")
    page.wait_for_function("() => window.__spinner.shown !== undefined")
    busy, shown = page.evaluate("[window.__spinner.busy, window.__spinner.shown]")
    assert shown - busy >= 250  # nothing flashes for an answer quicker than that
    spinning = (
        "(el) => el.getAnimations({subtree: true}).some((a) => a.animationName === "
        "'rx-busy-spin' && a.playState === 'running')"
    )
    assert submit.evaluate(spinning)

    relay.release()
    expect(page.get_by_test_id("login-error")).to_have_text("Incorrect email or password.")
    expect(submit).not_to_have_attribute("aria-busy", "true")
    assert submit.evaluate("(el) => getComputedStyle(el, '::after').content") == "none"


def _audited(
    server: RxappServer, account: Account, event: audit.Event = audit.Event.SIGN_IN_FAILED
) -> int:
    """How many `event` rows (failed sign-ins by default) the account's audit holds."""
    with server.db() as db:
        user = db.exec(select(User).where(User.email == account.email)).one()
        rows = select(AuditEvent).where(AuditEvent.user_id == user.id, AuditEvent.event == event)
        return len(db.exec(rows).all())


def test_a_second_press_while_the_first_is_unanswered_sends_nothing(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    """A doubled click or Enter is one attempt: one password check, one failure counted."""
    relay = _live_login_filled_wrong(page, rxapp_user)
    password = page.get_by_test_id("login-password")
    submit = page.get_by_test_id("login-submit")

    def enter_and_click_again() -> None:
        password.press("Enter")
        submit.click()

    relay.press_twice_unanswered(page, submit, enter_and_click_again)

    relay.release()
    expect(page.get_by_test_id("login-error")).to_have_text("Incorrect email or password.")
    expect(submit).not_to_have_attribute("aria-busy", "true")
    assert _audited(rxapp_server, rxapp_user) == 1
    password.fill("not-the-password")
    password.press("Enter")  # answered: the next attempt goes out
    relay.wait_for_submits(page, 2)
    expect(submit).not_to_have_attribute("aria-busy", "true")
    assert _audited(rxapp_server, rxapp_user) == 2


def test_a_failed_event_frees_the_form_at_once(page: Page, rxapp_user: Account) -> None:
    """An event that fails on the server sends no answer; its error comes with the script
    that ends the busy mark (state/backend_errors.py), so the form can be sent again."""
    relay = _live_login_filled_wrong(page, rxapp_user)
    submit = page.get_by_test_id("login-submit")
    relay.press_twice_unanswered(page, submit, submit.click)
    page.evaluate(RELEASE_BUSY_BUTTONS)  # the script the server sends with the error
    expect(submit).not_to_have_attribute("aria-busy", "true")
    submit.click()
    relay.wait_for_submits(page, 2)


def test_an_invalid_email_is_explained_before_any_check(page: Page) -> None:
    page.goto("/login")
    page.get_by_test_id("login-email").fill("not an email")
    page.get_by_test_id("login-password").fill("some-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("valid email")


def test_an_account_with_a_unicode_address_signs_in(page: Page, rxapp_server: RxappServer) -> None:
    """Browsers refuse a non-ASCII local part in type=email fields; such an address is a
    valid account (SMTPUTF8), created from the command line."""
    email = f"ünï-{uuid.uuid4().hex[:8]}@exämple.com"
    account = rxapp_server.create_user(email=email)
    sign_in(page, account)
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(email)


def test_the_profile_without_a_session_goes_to_login(page: Page) -> None:
    page.goto("/profile")
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_test_id("login-email")).to_be_visible()


def test_a_forged_session_token_grants_nothing(page: Page) -> None:
    page.goto("/login")
    page.evaluate("localStorage.setItem('rxapp_session', 'forged-token-' + 'x'.repeat(40))")
    page.goto("/profile")
    expect(page).to_have_url(LOGIN_URL)


def test_root_sends_visitors_by_session(page: Page, rxapp_user: Account) -> None:
    page.goto("/")
    expect(page).to_have_url(LOGIN_URL)
    sign_in_to_profile(page, rxapp_user)
    page.goto("/")
    expect(page).to_have_url(PROFILE_URL)


def test_the_logo_during_the_code_step_goes_back_to_the_code_step(
    page: Page, rxapp_user: Account
) -> None:
    """`/` (where the logo links) sends a sign-in waiting for its code back to that step,
    not to an empty login form that looks as if the password were lost."""
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    page.get_by_test_id("logout").click()
    sign_in(page, rxapp_user)
    expect(page).to_have_url(PASSCODE_URL)
    expect(page.get_by_role("link", name="rxapp home")).to_have_attribute("href", "/")
    page.goto("/")
    expect(page).to_have_url(PASSCODE_URL)
    expect(page.get_by_test_id("login-email")).to_have_count(0)
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("passcode-submit").click()
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)


def test_after_sign_out_reload_and_back_do_not_restore_the_session(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(LOGIN_URL)

    page.reload()
    expect(page).to_have_url(LOGIN_URL)
    page.go_back()
    page.goto("/profile")
    expect(page).to_have_url(LOGIN_URL)

    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == rxapp_user.email)).one()
        sessions = db.exec(select(AuthSession).where(AuthSession.user_id == user.id)).all()
    assert sessions, "the sign-in created a server-side session"
    assert all(s.revoked_at is not None for s in sessions)


def test_the_session_survives_a_reload(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.reload()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)


def test_no_websocket_frame_carries_a_hash(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer, received_frames: list[str]
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.reload()
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)

    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == rxapp_user.email)).one()
        token_hashes = [
            s.token_hash for s in db.exec(select(AuthSession).where(AuthSession.user_id == user.id))
        ]
    assert received_frames, "the page spoke to the server over its websocket"
    assert token_hashes
    everything = "\n".join(received_frames)
    assert rxapp_user.email in everything  # the frames were captured and readable
    for secret in [user.password_hash, *token_hashes]:
        assert secret not in everything
    assert "argon2" not in everything


@pytest.mark.slow
def test_repeated_wrong_passwords_slow_down_that_email(page: Page, rxapp_user: Account) -> None:
    sign_in(page, rxapp_user, password="wrong-password-0")
    expect(page.get_by_test_id("login-error")).to_have_text(WRONG)
    for attempt in range(1, 5):  # five failures are free
        assert _answer_to(page, f"wrong-password-{attempt}") == WRONG
    # Two more, each once the wait after the last is over (1 s, then 2 s): a try during a wait
    # is refused unchecked and not counted. The wait after the seventh is 4 s, long enough to
    # try the right password within it even on a busy machine.
    deadline = time.monotonic() + 60
    for attempt in (5, 6):
        while (answer := _answer_to(page, f"wrong-password-{attempt}")) != WRONG:
            assert answer.startswith(MUST_WAIT), answer
            assert time.monotonic() < deadline
    # Right away, even the right password must wait.
    assert _answer_to(page, rxapp_user.password).startswith(MUST_WAIT)
    expect(page).to_have_url(LOGIN_URL)

    # Once the wait is over, the right password signs in.
    while (answer := _answer_to(page, rxapp_user.password)) != "signed in":
        assert answer.startswith(MUST_WAIT), answer
        assert time.monotonic() < deadline
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)


def test_signing_in_while_another_sign_in_to_the_account_is_checked_waits_for_it(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    """Two people (or tabs, or test workers) signing in to one account at the same moment:
    the later one waits for the earlier one's check, instead of being told "too many failed
    attempts" without any failure."""
    page.goto("/login")
    page.get_by_test_id("login-email").fill(rxapp_user.email)
    page.get_by_test_id("login-password").fill(rxapp_user.password)
    with rxapp_server.db() as db:  # another sign-in has just claimed the account's key
        assert throttle.claim_key(db, throttle.key_for(rxapp_user.email), now=utcnow()) == 0
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(PROFILE_URL, timeout=10_000)
    assert _audited(rxapp_server, rxapp_user) == 0


def test_a_tab_closed_while_its_sign_in_is_checked_leaves_its_token_out_of_the_log(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    """Reflex warns about the update it cannot send to a closed tab, naming the tab's
    client token: the line is written with the token withheld."""
    page.goto("/login")
    page.get_by_test_id("login-email").fill(rxapp_user.email)
    page.get_by_test_id("login-password").fill(rxapp_user.password)
    # The form takes input before the page's scripts run; the tab's token comes with them.
    tab = page.wait_for_function("() => window.sessionStorage.getItem('token')").json_value()
    since = rxapp_server.log_size()
    with rxapp_server.db() as db:  # the check waits about 2 s for another one
        assert throttle.claim_key(db, throttle.key_for(rxapp_user.email), now=utcnow()) == 0
    page.get_by_test_id("login-submit").click()
    page.wait_for_timeout(300)  # the event has left
    page.close()

    deadline = time.monotonic() + 15
    log = ""
    while "disconnected client" not in log and time.monotonic() < deadline:
        time.sleep(0.2)
        log = rxapp_server.log_path.read_bytes()[since:].decode("utf-8", "replace")
    assert "<client token>" in log  # the warning was written (the console may wrap it)
    assert tab not in log


def test_a_sign_in_another_tab_starts_or_finishes_is_followed_and_nothing_is_checked(
    page: Page, browser: Browser, base_url: str, rxapp_server: RxappServer, rxapp_user: Account
) -> None:
    """A browser's tabs share its tokens: a code typed on a page whose sign-in another tab
    replaced is never checked against the other account, and the page says what happened."""
    bob = rxapp_server.create_user(email=f"bob-{uuid.uuid4().hex[:8]}@example.com")
    setup = browser.new_context(base_url=base_url).new_page()
    sign_in_to_profile(setup, bob)
    enable_2fa(setup)
    setup.context.close()
    alice = with_2fa_at_passcode(page, rxapp_user)
    expect(page.get_by_test_id("passcode-account")).to_have_text(re.compile(r"^q…@"))

    other = page.context.new_page()  # another tab of the same browser: bob signs in
    sign_in(other, bob)
    expect(other).to_have_url(PASSCODE_URL)
    page.get_by_test_id("passcode-input").fill(alice.code(steps_ahead=1))
    page.get_by_test_id("passcode-submit").click()
    expect(page.get_by_test_id("passcode-error")).to_contain_text(
        "This browser started another sign-in in another tab"
    )
    expect(page.get_by_test_id("passcode-account")).to_have_text(re.compile(r"^b…@"))
    expect(page).to_have_url(PASSCODE_URL)
    # Alice's code was not checked against bob's sign-in.
    assert _audited(rxapp_server, bob, audit.Event.SECOND_FACTOR_FAILED) == 0

    # The other tab signs in to an account without 2FA: coming back, this page follows.
    carol = rxapp_server.create_user()
    sign_in(other, carol)
    expect(other).to_have_url(PROFILE_URL)
    page.wait_for_timeout(2100)  # a return counts once per 2 s
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-notice")).to_contain_text(
        f"This browser signed in as {carol.email} in another tab"
    )
    expect(page.get_by_test_id("profile-email")).to_have_text(carol.email)


def test_a_page_typed_in_capitals_opens_at_its_own_address(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.goto("/PROFILE")
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)
    page.goto("/Login")  # signed in: the login page's own address sends on to the profile
    expect(page).to_have_url(PROFILE_URL)


def test_giving_up_a_sign_in_another_tab_replaced_leaves_that_tab_s_alone(
    page: Page, rxapp_server: RxappServer, rxapp_user: Account
) -> None:
    """ "Use a different account" on a page whose sign-in another tab replaced: the other
    tab's sign-in is not ended, nor is its pending token taken from the browser."""
    alice = with_2fa_at_passcode(page, rxapp_user)
    other = page.context.new_page()
    sign_in(other, rxapp_user)  # the same account, signing in again in another tab
    expect(other).to_have_url(PASSCODE_URL)
    page.get_by_text("Use a different account").click()
    expect(page).to_have_url(LOGIN_URL)
    other.get_by_test_id("passcode-input").fill(alice.code(steps_ahead=1))
    other.get_by_test_id("passcode-submit").click()
    expect(other).to_have_url(PROFILE_URL)
    assert _audited(rxapp_server, rxapp_user, audit.Event.SIGN_IN_ABANDONED) == 1  # its own
