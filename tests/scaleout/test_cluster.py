"""Two instances on PostgreSQL and Redis behind nginx under supervisord: every single-use
and throttle rule holds across instances, a killed instance comes back by itself while
browsers keep their sessions, and only nginx is reachable from the network."""

from __future__ import annotations

import re
import socket

import psutil
import pytest
import redis
from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlmodel import select

from rxapp.models import AuditEvent, User
from rxapp.services.database import session_for
from rxapp.testing import Account
from tests.e2e.conftest import PASSCODE_URL, PROFILE_URL, sign_in, sign_in_to_profile
from tests.scaleout.cluster_process import ClusterProcess, alive, wait_for
from tests.scaleout.conftest import TwoFactorAccount

pytestmark = pytest.mark.e2e


def _at_passcode(page: Page, account: Account) -> None:
    sign_in(page, account)
    expect(page).to_have_url(PASSCODE_URL)


def _served_by(cluster: ClusterProcess) -> dict[int, int]:
    """How many websocket connections nginx handed to each instance so far."""
    log = (cluster.run_dir / "logs" / "nginx-access.log").read_text()
    return {
        number: len(re.findall(rf'"GET /_event/" 101 upstream=127.0.0.1:{port}\b', log))
        for number, port in enumerate(cluster.ports, start=1)
    }


def _wait_for_log(cluster: ClusterProcess, before: dict[int, int]) -> dict[int, int]:
    def grown() -> dict[int, int] | None:
        after = _served_by(cluster)
        return after if all(after[n] > before[n] for n in after) else None

    return wait_for(grown, timeout=10, what="nginx logged a websocket for every instance")


def _user(cluster: ClusterProcess, email: str) -> User:
    with session_for(cluster.db_url) as db:
        return db.exec(select(User).where(User.email == email)).one()


def test_pinned_browsers_reach_their_own_instance(cluster: ClusterProcess, open_page, user) -> None:
    before = _served_by(cluster)
    first, second = open_page(1), open_page(2)
    for page in (first, second):
        with page.expect_websocket() as opened:
            page.goto("/login")
        expect(page.get_by_test_id("login-email")).to_be_visible()
        opened.value.wait_for_event("framereceived")  # the upgrade went through nginx
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
    cluster: ClusterProcess, open_page, user_2fa: TwoFactorAccount
) -> None:
    signed_in = _same_code_on_both_instances(open_page, user_2fa.account, user_2fa.next_code())
    assert len(signed_in) == 1


def test_one_backup_code_spent_on_both_instances_works_once(
    cluster: ClusterProcess, open_page, user_2fa: TwoFactorAccount
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
    cluster: ClusterProcess, open_page, user_2fa: TwoFactorAccount
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


def test_a_killed_instance_is_restarted_while_a_signed_in_browser_keeps_working(
    cluster: ClusterProcess, open_page, user: Account
) -> None:
    page = open_page(1)
    sign_in_to_profile(page, user)
    before = cluster.status()
    leader = psutil.Process(before[1][1])
    group = [leader, *leader.children(recursive=True)]
    assert len(group) >= 2  # reflex and its granian worker
    # The whole group at once, as a crash would. The page's websocket drops with it, and the
    # browser opens a new one through nginx: a click sent into the dying one would be lost
    # (a person would click again), so the test clicks once the new one exists.
    with page.expect_websocket(timeout=20_000):
        old_pid = cluster.kill_group(1)
    wait_for(
        lambda: not alive(group),
        timeout=10,
        what="every process of the killed instance gone",
    )

    # The websocket reconnects through nginx to instance 2, which reads the state from
    # Redis and the session from PostgreSQL.
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_be_visible(timeout=20_000)
    page.keyboard.press("Escape")

    new_pid = cluster.running_pid(1, not_pid=old_pid, timeout=20)
    assert cluster.status()[2] == before[2]  # the other instance was left alone
    page.reload()
    expect(page.get_by_test_id("profile-email")).to_have_text(user.email)
    assert new_pid != old_pid


def test_sessions_survive_a_restart_of_every_instance(
    cluster: ClusterProcess, open_page, user: Account
) -> None:
    page = open_page()
    sign_in_to_profile(page, user)
    before = cluster.status()
    for number in before:
        restarted = cluster.rxapp("cluster", "restart", str(number))
        assert restarted.returncode == 0, restarted.stderr
        assert restarted.stdout.startswith(f"instance-{number} RUNNING pid ")
    after = cluster.status()
    assert all(after[n][0] == "RUNNING" and after[n][1] != before[n][1] for n in before)
    page.reload()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(user.email)


def test_status_and_restart_report_bad_input_in_one_line(cluster: ClusterProcess) -> None:
    status = cluster.rxapp("cluster", "status")
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["instance-1", "instance-2"]
    assert all(re.fullmatch(r"instance-\d RUNNING pid \d+ port \d+", line) for line in lines)
    for bad, message in [("3", "no instance 3"), ("0", "no instance 0"), ("x", "a number")]:
        result = cluster.rxapp("cluster", "restart", bad)
        assert result.returncode != 0
        assert result.stderr.startswith("rxapp: error:") and message in result.stderr
        assert "Traceback" not in result.stderr


def _non_loopback_addresses() -> list[str]:
    return [
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family == socket.AF_INET and not address.address.startswith("127.")
    ]


def test_backends_listen_on_loopback_only(cluster: ClusterProcess) -> None:
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port in cluster.ports
    }
    assert {port for _, port in listening} == set(cluster.ports)
    assert {ip for ip, _ in listening} == {"127.0.0.1"}
    for address in _non_loopback_addresses():
        for port in cluster.ports:
            with socket.socket() as sock:
                sock.settimeout(2)
                assert sock.connect_ex((address, port)) != 0, f"{address}:{port} answers"


def test_when_redis_loses_the_state_the_browser_lands_on_a_working_page(
    cluster: ClusterProcess, open_page, user: Account
) -> None:
    page = open_page()
    sign_in_to_profile(page, user)
    store = redis.Redis.from_url(cluster.redis_url)
    # Redis is lost between two events (as a restart is): an event that held its tab's
    # lock at that moment would fail on Reflex's side (LockExpiredError), not on ours.
    wait_for(
        lambda: not any(store.scan_iter(match="*_lock")),
        timeout=15,
        what="no event of any tab in progress",
    )
    store.flushdb()

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
