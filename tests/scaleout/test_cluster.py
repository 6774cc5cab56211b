"""Two instances on PostgreSQL and Redis behind nginx: every single-use and throttle rule
holds across instances, and browsers keep their sessions when instances die."""

from __future__ import annotations

import re
import time

import pytest
import redis
from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlmodel import select

from rxapp.cluster import Cluster
from rxapp.models import AuditEvent, User
from rxapp.services.database import session_for
from rxapp.testing import Account
from tests.e2e.conftest import PASSCODE_URL, PROFILE_URL, sign_in, sign_in_to_profile
from tests.scaleout.conftest import TwoFactorAccount

pytestmark = pytest.mark.e2e


def _at_passcode(page: Page, account: Account) -> None:
    sign_in(page, account)
    expect(page).to_have_url(PASSCODE_URL)


def _served_by(cluster: Cluster) -> dict[int, int]:
    """How many websocket connections nginx handed to each instance so far."""
    log = (cluster.workdir / "nginx-access.log").read_text()
    counts = {}
    for member in cluster.members:
        counts[member.number] = len(
            re.findall(rf'"GET /_event/" 101 upstream=127.0.0.1:{member.port}\b', log)
        )
    return counts


def _wait_for_log(cluster: Cluster, before: dict[int, int]) -> dict[int, int]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = _served_by(cluster)
        if all(after[n] > before[n] for n in after):
            break
        time.sleep(0.2)
    return after


def _user(cluster: Cluster, email: str) -> User:
    with session_for(cluster.db_url) as db:
        return db.exec(select(User).where(User.email == email)).one()


def test_pinned_browsers_reach_their_own_instance(cluster: Cluster, open_page, user) -> None:
    before = _served_by(cluster)
    first, second = open_page(1), open_page(2)
    for page in (first, second):
        page.goto("/login")
        expect(page.get_by_test_id("login-email")).to_be_visible()
        page.context.close()  # nginx logs a websocket when it closes
    after = _wait_for_log(cluster, before)
    assert after[1] > before[1] and after[2] > before[2]


def _same_code_on_both_instances(open_page, account: Account, code: str) -> list[Page]:
    """Sign in on instance 1 and instance 2 up to the passcode, submit `code` on both at
    once, and return the pages that reached the profile."""
    first, second = open_page(1), open_page(2)
    _at_passcode(first, account)
    _at_passcode(second, account)
    for page in (first, second):
        page.get_by_test_id("passcode-input").fill(code)
    first.get_by_test_id("passcode-submit").click(no_wait_after=True)
    second.get_by_test_id("passcode-submit").click(no_wait_after=True)
    for page in (first, second):
        expect(
            page.get_by_test_id("passcode-error").or_(page.get_by_test_id("profile-email"))
        ).to_be_visible()
    signed_in = [p for p in (first, second) if PROFILE_URL.search(p.url)]
    for refused in {first, second} - set(signed_in):
        expect(refused.get_by_test_id("passcode-error")).to_be_visible()
    return signed_in


def test_the_same_totp_code_on_both_instances_signs_in_once(
    cluster: Cluster, open_page, user_2fa: TwoFactorAccount
) -> None:
    signed_in = _same_code_on_both_instances(open_page, user_2fa.account, user_2fa.next_code())
    assert len(signed_in) == 1


def test_one_backup_code_spent_on_both_instances_works_once(
    cluster: Cluster, open_page, user_2fa: TwoFactorAccount
) -> None:
    code = user_2fa.backup_codes[2]
    signed_in = _same_code_on_both_instances(open_page, user_2fa.account, code)
    assert len(signed_in) == 1
    with session_for(cluster.db_url) as db:
        user = db.exec(select(User).where(User.email == user_2fa.account.email)).one()
        used = db.exec(
            select(AuditEvent).where(
                AuditEvent.user_id == user.id, AuditEvent.event == "backup_code_used"
            )
        ).all()
    assert len(used) == 1


def test_failures_on_both_instances_add_up_and_a_lockout_holds_on_the_other(
    cluster: Cluster, open_page, user_2fa: TwoFactorAccount
) -> None:
    first, second = open_page(1), open_page(2)
    _at_passcode(first, user_2fa.account)
    _at_passcode(second, user_2fa.account)
    valid = {user_2fa.next_code()}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in valid)

    first.get_by_test_id("passcode-input").fill(wrong)
    first.get_by_test_id("passcode-submit").click()
    expect(first.get_by_test_id("passcode-error")).to_contain_text("not right")
    second.wait_for_timeout(1100)  # the 1 s backoff, shared by every instance
    second.get_by_test_id("passcode-input").fill(wrong)
    second.get_by_test_id("passcode-submit").click()
    expect(second.get_by_test_id("passcode-error")).to_contain_text("not right")
    assert _user(cluster, user_2fa.account.email).second_factor_failures == 2

    with session_for(cluster.db_url) as db:
        db.exec(
            update(User)
            .where(User.email == user_2fa.account.email)
            .values(second_factor_failures=9, second_factor_blocked_until=None)
        )
        db.commit()
    first.get_by_test_id("passcode-input").fill(wrong)
    first.get_by_test_id("passcode-submit").click()
    expect(first.get_by_test_id("passcode-error")).to_contain_text("15 minutes")

    second.get_by_test_id("passcode-input").fill(user_2fa.next_code())
    second.get_by_test_id("passcode-submit").click()
    expect(second.get_by_test_id("passcode-error")).to_contain_text("Try again in 15 minutes")
    expect(second).to_have_url(PASSCODE_URL)


def test_a_signed_in_browser_keeps_its_session_when_its_instance_dies(
    cluster: Cluster, open_page, user: Account
) -> None:
    page = open_page(1)
    sign_in_to_profile(page, user)
    cluster.kill_instance(1)
    try:
        # The websocket reconnects through nginx to instance 2, which reads the state from
        # Redis and the session from PostgreSQL.
        page.get_by_test_id("enable-2fa").click()
        expect(page.get_by_test_id("enroll-secret")).to_be_visible(timeout=20_000)
        page.keyboard.press("Escape")
        page.reload()
        expect(page.get_by_test_id("profile-email")).to_have_text(user.email)
    finally:
        cluster.start_instance(1)


def test_sessions_survive_a_restart_of_every_instance(
    cluster: Cluster, open_page, user: Account
) -> None:
    page = open_page()
    sign_in_to_profile(page, user)
    for member in cluster.members:
        cluster.kill_instance(member.number)
    for member in cluster.members:
        cluster.start_instance(member.number)
    page.reload()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(user.email)


def test_when_redis_loses_the_state_the_browser_lands_on_a_working_page(
    cluster: Cluster, open_page, user: Account
) -> None:
    page = open_page()
    sign_in_to_profile(page, user)
    redis.Redis.from_url(cluster.redis_url).flushdb()

    # Acting on the page that lost its server state: the browser still holds its token, so
    # it is signed in again from the database session, and the page works.
    page.get_by_test_id("enable-2fa").click()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(user.email)
    if not page.get_by_test_id("enroll-secret").is_visible():
        page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()
    page.reload()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(user.email)
