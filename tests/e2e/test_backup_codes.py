"""Backup codes in a real browser: the 30-second reveal, single use, new batches."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update
from sqlmodel import select

from rxapp.models import AuthSession, BackupCode, User
from rxapp.services.clock import utcnow
from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import (
    PASSCODE_URL,
    PROFILE_URL,
    enable_2fa,
    enable_2fa_until_the_codes,
    enrolment_key,
    generate_backup_codes,
    sign_in_to_profile,
    sign_in_with_code,
    sign_out,
    wait_for_frames,
    wait_out_the_backoff,
)

pytestmark = pytest.mark.e2e
CODE_FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


def _countdown(page: Page) -> int:
    return int(page.get_by_test_id("backup-countdown").inner_text())


@pytest.mark.slow
def test_the_reveal_counts_down_for_thirty_seconds_then_the_codes_are_gone(
    page: Page, rxapp_user: Account, received_frames: list[str]
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    secret = enrolment_key(page).replace(" ", "")
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("enroll-check").click()

    codes = page.get_by_test_id("backup-code")
    expect(codes).to_have_count(5)
    shown = codes.all_inner_texts()
    assert len(set(shown)) == 5 and all(CODE_FORMAT.match(c) for c in shown)
    first = _countdown(page)
    assert 27 <= first <= 30
    # Screen readers hear milestones through a polite live region, not every second.
    announcement = page.get_by_test_id("backup-countdown-announcement")
    expect(announcement).to_have_attribute("aria-live", "polite")
    expect(announcement).to_contain_text("seconds left to save your backup codes")
    expect(page.get_by_role("timer")).to_have_attribute("aria-live", "off")
    expect(page.get_by_test_id("backup-countdown")).not_to_have_text(str(first))
    later = _countdown(page)
    assert later < first

    expect(codes).to_have_count(0, timeout=35_000)
    expect(page.get_by_test_id("backup-expired")).to_be_visible()
    expect(announcement).to_have_text("The backup codes are hidden now.")
    frames_at_end = len(received_frames)
    page.reload()
    expect(page.get_by_test_id("backup-remaining")).to_have_text("5")
    after = "\n".join(received_frames[frames_at_end - 1 :])
    for code in shown:
        assert code not in after and code.replace("-", "") not in after


def test_a_tab_closed_during_the_reveal_stops_its_countdown(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    """Its countdown does not run on: Reflex logs the tab's id for each update it cannot
    send, and a tab id must never land in the log."""
    sign_in_to_profile(page, rxapp_user)
    enable_2fa_until_the_codes(page)
    tab = page.evaluate("window.sessionStorage.getItem('token')")
    since = rxapp_server.log_size()
    page.close()
    time.sleep(4)
    assert tab not in rxapp_server.log_path.read_bytes()[since:].decode("utf-8", "replace")


def test_closing_early_hides_the_codes_for_good(
    page: Page, rxapp_user: Account, received_frames: list[str]
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)  # closes the reveal with backup-close
    closed_at = len(received_frames)
    new_codes = generate_backup_codes(page, twofa.backup_codes[0])
    page.get_by_test_id("backup-close").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(0)
    before_reload = len(received_frames)
    page.reload()
    expect(page.get_by_test_id("backup-remaining")).to_have_text("5")
    # The reloaded page's own frames have arrived, so the check below looks at them.
    wait_for_frames(received_frames, before_reload + 1, page)
    tail = "\n".join(received_frames[closed_at:])
    last_reveal = max(i for i, f in enumerate(received_frames) if new_codes[0] in f)
    after_close = "\n".join(received_frames[last_reveal + 1 :])
    assert new_codes[0] in tail  # the reveal itself went through the websocket
    for code in new_codes + twofa.backup_codes:
        assert code not in after_close


def test_escape_or_a_click_outside_does_not_throw_the_codes_away(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    enable_2fa_until_the_codes(page)
    codes = page.get_by_test_id("backup-code")
    page.keyboard.press("Escape")
    page.mouse.click(5, 5)  # on the overlay, outside the dialog
    page.wait_for_timeout(300)  # what a close would have sent has been answered
    expect(codes).to_have_count(5)
    page.get_by_test_id("backup-close").press("Enter")  # its own button closes it
    expect(codes).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_a_backup_code_signs_in_once_in_any_case_and_format(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)
    code = twofa.backup_codes[0]
    typed = " " + code.replace("-", " ").lower() + " "
    sign_in_with_code(page, rxapp_user, typed)
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("backup-remaining")).to_have_text("4")

    sign_out(page)
    sign_in_with_code(page, rxapp_user, code.replace("-", ""))
    expect(page.get_by_test_id("passcode-error")).to_contain_text("works only once")
    expect(page).to_have_url(PASSCODE_URL)

    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == rxapp_user.email)).one()
        rows = db.exec(select(BackupCode).where(BackupCode.user_id == user.id)).all()
    assert len(rows) == 5 and sum(r.used_at is not None for r in rows) == 1
    for row in rows:
        assert row.code_hash.startswith("$argon2id$")
        assert code.replace("-", "") not in row.code_hash


def test_a_new_batch_invalidates_the_old_codes(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    fresh = generate_backup_codes(page, twofa.backup_codes[4])
    assert not set(fresh) & set(twofa.backup_codes)
    page.get_by_test_id("backup-close").click()
    sign_out(page)

    sign_in_with_code(page, rxapp_user, twofa.backup_codes[1])
    expect(page.get_by_test_id("passcode-error")).to_be_visible()
    wait_out_the_backoff(
        page, field="passcode-input", submit="passcode-submit", error="passcode-error"
    )
    page.get_by_test_id("passcode-input").fill(fresh[1])
    page.get_by_test_id("passcode-submit").click()
    expect(page).to_have_url(PROFILE_URL)


@pytest.mark.parametrize("where", ["tab", "browser"])
def test_codes_on_screen_replaced_elsewhere_are_taken_away_at_once(
    page: Page, browser: Browser, base_url: str, rxapp_user: Account, where: str
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    first = generate_backup_codes(page, twofa.backup_codes[4])  # on screen for 30 s
    if where == "tab":  # another tab of the same browser: the same session
        other = page.context.new_page()
        other.goto("/profile")
    else:  # another browser, signed in on its own: another session
        other = browser.new_context(base_url=base_url).new_page()
        sign_in_with_code(other, rxapp_user, first[1])
        expect(other).to_have_url(PROFILE_URL)
    newer = generate_backup_codes(other, first[0])
    assert not set(newer) & set(first)
    # The first tab no longer shows codes that stopped working, and says why.
    expect(page.get_by_test_id("backup-replaced")).to_be_visible(timeout=5000)
    expect(page.get_by_test_id("backup-code")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_contain_text("Backup codes replaced")
    expect(page.get_by_test_id("backup-countdown-announcement")).to_have_text(
        "Newer backup codes were made: the ones on screen no longer work."
    )
    # The newer codes stay on their own tab's screen.
    expect(other.get_by_test_id("backup-code")).to_have_count(5)
    expect(other.get_by_test_id("backup-replaced")).to_have_count(0)


def test_few_codes_left_are_warned_about_after_sign_in_and_on_the_profile(
    page: Page, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    expect(page.get_by_test_id("backup-low-warning")).to_have_count(0)
    for index in range(3):
        sign_out(page)
        sign_in_with_code(page, rxapp_user, twofa.backup_codes[index])
        expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-notice")).to_have_text(
        "2 backup codes left — generate new ones."
    )
    expect(page.get_by_test_id("backup-remaining")).to_have_text("2")
    expect(page.get_by_test_id("backup-low-warning")).to_be_visible()


def test_new_codes_long_after_sign_in_need_a_fresh_code(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == rxapp_user.email)).one()
        db.exec(
            update(AuthSession)
            .where(AuthSession.user_id == user.id)
            .values(fresh_proof_at=utcnow() - timedelta(minutes=6))
        )
        db.commit()
    page.get_by_test_id("generate-backup-codes").click()
    page.get_by_test_id("reauth-input").fill("000000" if twofa.code() != "000000" else "111111")
    page.get_by_test_id("reauth-submit").click()
    expect(page.get_by_test_id("reauth-error")).to_be_visible()
    expect(page.get_by_test_id("backup-code")).to_have_count(0)
    wait_out_the_backoff(page, field="reauth-input", submit="reauth-submit", error="reauth-error")
    page.get_by_test_id("reauth-input").fill(twofa.backup_codes[4])
    page.get_by_test_id("reauth-submit").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)
