"""Two-factor authentication with TOTP in a real browser: enrol, sign in, refuse, disable."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlmodel import select

from rxapp.event_guard import REFUSED_MESSAGE
from rxapp.models import AuditEvent, AuthSession, User
from rxapp.services.clock import utcnow
from rxapp.state.passcode import PasscodeState
from rxapp.state.profile import ProfileState
from rxapp.state.profile_dialogs import BackupCodesState, DisableState, EnrollState, ReauthState
from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import (
    FORMAT_HINT,
    LOGIN_URL,
    MALFORMED_CODE,
    PASSCODE_URL,
    PROFILE_URL,
    EventForger,
    HeldUpdates,
    enable_2fa,
    enrolment_key,
    field_emptied,
    generate_backup_codes,
    sign_in,
    sign_in_to_profile,
    sign_in_with_code,
    sign_out,
    wait_for_frame_with,
    wait_out_the_backoff,
)

pytestmark = pytest.mark.e2e


def _user(server: RxappServer, account: Account) -> User:
    with server.db() as db:
        return db.exec(select(User).where(User.email == account.email)).one()


def _events(server: RxappServer, account: Account) -> list[str]:
    user = _user(server, account)
    with server.db() as db:
        return [e.event for e in db.exec(select(AuditEvent).where(AuditEvent.user_id == user.id))]


def test_the_enable_dialog_shows_apps_qr_code_and_grouped_key(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    expect(page.get_by_test_id("twofa-status")).to_have_text("Not activated")
    page.get_by_test_id("enable-2fa").click()

    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Google Authenticator")
    expect(dialog).to_contain_text("Microsoft Authenticator")
    qr = page.get_by_test_id("enroll-qr")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    key = enrolment_key(page)
    groups = key.split(" ")
    assert len("".join(groups)) == 32 and all(len(g) == 4 for g in groups)
    # On a phone with the app: the same key, by a link the app opens.
    link = pyotp.parse_uri(page.get_by_test_id("enroll-link").get_attribute("href"))
    assert (link.secret, link.name, link.issuer) == ("".join(groups), rxapp_user.email, "rxapp")
    code_input = page.get_by_test_id("enroll-code")
    assert code_input.get_attribute("autocomplete") == "one-time-code"
    assert code_input.get_attribute("inputmode") == "numeric"


def test_a_code_pasted_with_spaces_around_it_turns_2fa_on(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    code = pyotp.TOTP(enrolment_key(page).replace(" ", "")).now()
    pasted = f" {code[:3]} {code[3:]} "  # as some apps copy it
    page.get_by_test_id("enroll-code").focus()
    page.keyboard.insert_text(pasted)
    expect(page.get_by_test_id("enroll-code")).to_have_value(pasted)  # none of it cut off
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)


def test_reopening_the_dialog_starts_over_with_a_new_key(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    first = enrolment_key(page)
    expect(page.get_by_test_id("enroll-new-key")).to_have_count(0)  # the first key
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("enroll-secret")).to_have_count(0)
    page.get_by_test_id("enable-2fa").click()
    second = enrolment_key(page, not_=first)  # waits for a new key: fails on the same one
    assert first != second
    # Said so: an app that scanned the first key holds an entry whose codes never work.
    expect(page.get_by_test_id("enroll-new-key")).to_contain_text("This is a new key.")
    # The first key no longer activates anything.
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(first.replace(" ", "")).now())
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("enroll-error")).to_be_visible()


def test_a_wrong_enrolment_code_shows_the_hints_and_keeps_the_dialog(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    secret = enrolment_key(page).replace(" ", "")
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    page.get_by_test_id("enroll-code").fill(wrong)
    page.get_by_test_id("enroll-check").click()
    error = page.get_by_test_id("enroll-error")
    expect(error).to_contain_text("QR code")
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Not activated")


def test_a_dialogs_submit_is_busy_until_answered_and_a_second_press_sends_nothing(
    page: Page, rxapp_user: Account
) -> None:
    relay = HeldUpdates(page, holding=False, counting="enroll_state.submit")
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    secret = enrolment_key(page).replace(" ", "")
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    code, check = page.get_by_test_id("enroll-code"), page.get_by_test_id("enroll-check")
    code.fill(wrong)
    relay.press_twice_unanswered(page, check, check.click)

    relay.release()
    expect(page.get_by_test_id("enroll-error")).to_contain_text("QR code")
    expect(check).not_to_have_attribute("aria-busy", "true")
    assert relay.submits == 1


def test_enable_sign_out_and_sign_in_with_a_code_and_replay_is_refused(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)

    # The code that confirmed enrolment cannot sign in again (its step is spent).
    sign_in_with_code(page, rxapp_user, twofa.enrolment_code)
    expect(page.get_by_test_id("passcode-error")).to_be_visible()
    expect(page).to_have_url(PASSCODE_URL)

    # The next step's code (within the one-step drift) signs in, after the 1 s backoff.
    wait_out_the_backoff(
        page, field="passcode-input", submit="passcode-submit", error="passcode-error"
    )
    accepted = twofa.code(steps_ahead=1)
    page.get_by_test_id("passcode-input").fill(accepted)
    page.get_by_test_id("passcode-submit").click()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("twofa-status")).to_have_text("Activated")

    # Replaying that accepted code in a new sign-in is refused.
    sign_out(page)
    sign_in_with_code(page, rxapp_user, accepted)
    expect(page.get_by_test_id("passcode-error")).to_be_visible()
    expect(page).to_have_url(PASSCODE_URL)

    events = _events(rxapp_server, rxapp_user)
    assert "twofa_enabled" in events
    assert "second_factor_failed" in events
    assert events.count("sign_in_ok") == 2


def test_a_wrong_code_explains_time_sync_and_tries_left(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)
    wrong = (
        "123456" if twofa.code() != "123456" and twofa.code(steps_ahead=1) != "123456" else "654321"
    )
    sign_in_with_code(page, rxapp_user, wrong)
    error = page.get_by_test_id("passcode-error")
    expect(error).to_contain_text("not right")
    expect(error).to_contain_text("4 tries left")
    expect(error).to_have_attribute("role", "alert")
    # The help on the page covers the guide's three troubleshooting steps.
    page.get_by_text("Having trouble with your code?").click()
    for topic in ["phone's time", "backup code", "changed phones"]:
        expect(page.get_by_text(topic, exact=False).first).to_be_visible()


def test_a_code_in_a_bad_format_is_refused_without_counting(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    enable_2fa(page)
    sign_out(page)
    sign_in(page, rxapp_user)
    for bad in ["１２３４５６", "12345", "123-456", "x" * 5000]:
        page.get_by_test_id("passcode-input").fill(bad)
        page.get_by_test_id("passcode-submit").click()
        # Wait for the answer (a submit while the last one is unanswered is dropped).
        expect(page.get_by_test_id("passcode-submit")).not_to_have_attribute("aria-busy", "true")
        expect(page.get_by_test_id("passcode-input")).to_have_value("")
        expect(page.get_by_test_id("passcode-error")).to_contain_text("6-digit code")
    expect(page.get_by_test_id("passcode-error")).not_to_contain_text("tries left")


@pytest.mark.slow
def test_five_wrong_codes_void_the_sign_in(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)
    sign_in(page, rxapp_user)
    valid = {twofa.code(steps_ahead=s) for s in (-1, 0, 1)}
    wrong = [
        c
        for c in ("111111", "222222", "333333", "444444", "555555", "666666", "777777")
        if c not in valid
    ]
    error = page.get_by_test_id("passcode-error")
    for attempt in range(5):
        # Wait out the backoff (1, 2, 4, 8 s): a try during it is refused with a wait message.
        page.get_by_test_id("passcode-input").fill(wrong[attempt])
        page.get_by_test_id("passcode-submit").click()
        if attempt < 4:
            expect(error).to_contain_text(f"{4 - attempt} tr")
            wait_out_the_backoff(
                page, field="passcode-input", submit="passcode-submit", error="passcode-error"
            )
    expect(error).to_contain_text("sign in again")
    # The form is gone: the way on is a new sign-in.
    expect(page.get_by_test_id("passcode-input")).to_have_count(0)
    page.get_by_test_id("passcode-sign-in-again").click()
    expect(page).to_have_url(LOGIN_URL)


def test_ten_consecutive_failures_lock_the_account_and_say_how_long(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)
    # Nine failures already made from other sessions (waiting them out takes minutes).
    with rxapp_server.db() as db:
        db.exec(update(User).where(User.email == rxapp_user.email).values(second_factor_failures=9))
        db.commit()
    sign_in(page, rxapp_user)
    valid = {twofa.code(steps_ahead=s) for s in (-1, 0, 1)}
    page.get_by_test_id("passcode-input").fill("000000" if "000000" not in valid else "999999")
    page.get_by_test_id("passcode-submit").click()
    error = page.get_by_test_id("passcode-error")
    expect(error).to_contain_text("That code is not right")
    expect(error).to_contain_text("15 minutes")

    # Even the right code must wait now, in any session.
    field_emptied(page, "passcode-input")
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("passcode-submit").click()
    field_emptied(page, "passcode-input")
    expect(error).not_to_contain_text("That code is not right")  # a new answer: the wait
    expect(error).to_contain_text("Try again in 15 minutes")
    expect(page).to_have_url(PASSCODE_URL)
    assert "second_factor_lockout" in _events(rxapp_server, rxapp_user)


def test_the_passcode_page_without_a_pending_login_goes_to_login(page: Page) -> None:
    page.goto("/passcode")
    expect(page).to_have_url(LOGIN_URL)


def test_a_pending_login_does_not_open_the_profile(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    enable_2fa(page)
    sign_out(page)
    sign_in(page, rxapp_user)
    expect(page).to_have_url(PASSCODE_URL)
    page.goto("/profile")
    expect(page).to_have_url(LOGIN_URL)


def test_the_disable_dialogs_confirm_is_busy_until_answered_too(
    page: Page, rxapp_user: Account
) -> None:
    relay = HeldUpdates(page, holding=False, counting="disable_state.submit")
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    page.get_by_test_id("disable-2fa").click()
    page.get_by_test_id("disable-code").fill(twofa.enrolment_code)  # its step is spent
    confirm = page.get_by_test_id("disable-confirm")
    relay.press_twice_unanswered(page, confirm, confirm.click)

    relay.release()
    expect(page.get_by_test_id("disable-error")).to_be_visible()
    expect(confirm).not_to_have_attribute("aria-busy", "true")
    expect(page.get_by_test_id("twofa-status")).to_have_text("Activated")


def test_disable_with_a_code_turns_2fa_off_at_once(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    page.get_by_test_id("disable-2fa").click()
    page.get_by_test_id("disable-code").fill(twofa.enrolment_code)  # its step is spent
    page.get_by_test_id("disable-confirm").click()
    expect(page.get_by_test_id("disable-error")).to_be_visible()
    wait_out_the_backoff(
        page, field="disable-code", submit="disable-confirm", error="disable-error"
    )
    page.get_by_test_id("disable-code").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("disable-confirm").click()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Not activated")
    told = page.get_by_text("Two-factor authentication is off")
    expect(told).to_be_visible()  # in the toasts' live region: said to screen readers too
    expect(page.locator("[aria-live]").filter(has=told)).to_have_count(1)

    user = _user(rxapp_server, rxapp_user)
    assert user.totp_secret is None and user.totp_enabled_at is None
    assert "twofa_disabled" in _events(rxapp_server, rxapp_user)
    sign_out(page)
    sign_in(page, rxapp_user)
    expect(page).to_have_url(PROFILE_URL)


def test_enabling_long_after_sign_in_asks_for_the_password(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    user = _user(rxapp_server, rxapp_user)
    with rxapp_server.db() as db:
        db.exec(
            update(AuthSession)
            .where(AuthSession.user_id == user.id)
            .values(fresh_proof_at=utcnow() - timedelta(minutes=6))
        )
        db.commit()
    page.get_by_test_id("enable-2fa").click()
    page.get_by_test_id("reauth-input").fill("not my password")
    page.get_by_test_id("reauth-submit").click()
    expect(page.get_by_test_id("reauth-error")).to_be_visible()
    expect(page.get_by_test_id("enroll-secret")).to_have_count(0)
    field_emptied(page, "reauth-input")
    page.get_by_test_id("reauth-input").fill(rxapp_user.password)
    page.get_by_test_id("reauth-submit").click()
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()


def test_the_secret_never_reaches_the_browser_after_the_dialog_closes(
    page: Page, rxapp_user: Account, received_frames: list[str]
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    during_enrolment = len(received_frames)
    assert any(twofa.secret in f for f in received_frames[:during_enrolment])
    page.reload()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Activated")
    generate_backup_codes(page, twofa.backup_codes[0])
    page.get_by_test_id("backup-close").click()
    after = "\n".join(received_frames[during_enrolment:])
    assert after, "frames were received after enrolment"
    assert twofa.secret not in after
    assert twofa.secret.lower() not in after.lower()


def _full(state: type, handler: str) -> str:
    return f"{state.get_full_name()}.{handler}"


PROFILE_FORGERIES = [
    (EnrollState, "start", {}),
    (EnrollState, "submit", {"form": {"code": "123456"}}),
    (ReauthState, "submit", {"form": {"proof": "anything"}}),
    (DisableState, "start", {}),
    (DisableState, "submit", {"form": {"code": "123456"}}),
    (BackupCodesState, "start", {}),
    (EnrollState, "close", {"_open": {"x": 1}}),
    (BackupCodesState, "run_countdown", {}),
    (ProfileState, "open_profile", {}),
    (EnrollState, "submit", {"form": ["not", "a", "dict"]}),
    (DisableState, "submit", {"form": None}),
]


def test_forged_profile_events_without_a_full_session_change_and_reveal_nothing(
    page: Page,
    rxapp_user: Account,
    rxapp_server: RxappServer,
    forge: EventForger,
    received_frames: list[str],
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)
    # Only a pending login from here on.
    sign_in(page, rxapp_user)
    expect(page).to_have_url(PASSCODE_URL)
    before = _user(rxapp_server, rxapp_user)
    frames_before = len(received_frames)
    for state, handler, payload in PROFILE_FORGERIES:
        forge.send(_full(state, handler), payload, path="/profile")
    forge.send(
        _full(DisableState, "submit"),
        {"form": {"code": twofa.code(steps_ahead=1)}},
        path="/profile",
    )
    # The server handles a tab's events one after another: once it answers an event sent
    # after the forgeries (a malformed code for the pending login, refused without counting),
    # it has handled them all. (The forgeries may have sent the page itself to /login.)
    assert not any(FORMAT_HINT in f for f in received_frames[frames_before:])
    forge.send(_full(PasscodeState, "submit"), {"form": {"code": MALFORMED_CODE}}, path="/passcode")
    wait_for_frame_with(received_frames, FORMAT_HINT, page, start=frames_before)

    after = _user(rxapp_server, rxapp_user)
    assert after.totp_secret == before.totp_secret and after.totp_enabled_at is not None
    assert after.totp_pending_secret is None
    leaked = "\n".join(received_frames[frames_before:])
    assert twofa.secret not in leaked
    for code in twofa.backup_codes:
        assert code not in leaked
    # The forged profile events found no session and sent this page to the login page.
    expect(page).to_have_url(LOGIN_URL)
    # The pending login still works for its owner: nothing was spent by the forgeries.
    page.goto("/passcode")
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("passcode-submit").click()
    expect(page).to_have_url(PROFILE_URL)


def test_forged_passcode_events_without_a_pending_login_change_nothing(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer, forge: EventForger
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)
    page.goto("/login")
    expect(page.get_by_test_id("login-email")).to_be_visible()
    for payload in [{"form": {"code": twofa.code(steps_ahead=1)}}, {"form": 42}, {}]:
        forge.send(_full(PasscodeState, "submit"), payload, path="/passcode")
    forge.send(_full(PasscodeState, "start_over"), {}, path="/passcode")
    # The server handles a tab's events one after another: once it answers a sign-in made
    # after the forgeries, it has handled them.
    # (Typed into this very page: a new page could be a new connection.)
    expect(page.get_by_test_id("login-error")).to_have_count(0)
    page.get_by_test_id("login-email").fill("nobody-" + rxapp_user.email)
    page.get_by_test_id("login-password").fill("not a password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Incorrect email or password.")
    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == rxapp_user.email)).one()
        live = db.exec(
            select(AuthSession).where(
                AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None)
            )
        ).all()
    assert live == []
    assert user.second_factor_failures == 0
    # The valid code was not spent: it still signs in.
    sign_in_with_code(page, rxapp_user, twofa.code(steps_ahead=1))
    expect(page).to_have_url(PROFILE_URL)


def test_a_code_the_server_will_not_read_frees_the_button_and_says_why(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    secret = enrolment_key(page).replace(" ", "")
    page.get_by_test_id("enroll-code").fill("12\x003456")  # pasted with a NUL in it
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_text(REFUSED_MESSAGE)).to_be_visible(timeout=3_000)
    expect(page.get_by_test_id("enroll-check")).not_to_have_attribute("aria-busy", "true")
    # The right code works at once, not after the busy mark's 20 s.
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5, timeout=5_000)


def test_setting_up_in_a_second_tab_tells_the_first_its_key_was_replaced(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    first_key = enrolment_key(page).replace(" ", "")
    second = page.context.new_page()
    second.goto(page.url)
    second.get_by_test_id("enable-2fa").click()
    second_key = enrolment_key(second, not_=enrolment_key(page)).replace(" ", "")
    assert second_key != first_key

    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(first_key).now())
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("enroll-error")).to_contain_text("another tab or window")
    expect(page.get_by_test_id("enroll-error")).not_to_contain_text("scanned")

    second.get_by_test_id("enroll-code").fill(pyotp.TOTP(second_key).now())
    second.get_by_test_id("enroll-check").click()
    expect(second.get_by_test_id("backup-code")).to_have_count(5)
