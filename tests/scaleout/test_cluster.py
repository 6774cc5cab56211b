"""Two instances on PostgreSQL and Redis behind nginx under supervisord: every single-use
and throttle rule holds across instances, a killed instance comes back by itself while
browsers keep their sessions, and only nginx is reachable from the network."""

from __future__ import annotations

import re
import socket
import time

import httpx
import psutil
import pyotp
import pytest
import redis
from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlmodel import select

from rxapp.models import AuditEvent, User
from rxapp.services.database import session_for
from rxapp.state.approvals import RENEW_LEASE_SECONDS
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


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_an_instance_whose_launcher_alone_is_killed_comes_back_on_its_port(
    cluster: ClusterProcess,
) -> None:
    """`kill -9` of the pid `rxapp cluster status` shows (Reflex's launcher) leaves its
    server worker holding the port: the next start ends it, and the instance serves again."""
    before = cluster.status()
    launcher = psutil.Process(before[1][1])
    workers = launcher.children(recursive=True)
    assert workers  # granian's worker(s), forked by the launcher
    launcher.kill()
    new_pid = cluster.running_pid(1, not_pid=before[1][1], timeout=30)
    wait_for(lambda: not alive(workers), timeout=15, what="the orphaned workers ended")
    wait_for(lambda: _answers(cluster.ports[0]), timeout=30, what="instance 1 answering again")
    assert cluster.status()[1] == ("RUNNING", new_pid)
    log = cluster.log_path(1).read_text()
    assert re.search(r"ended \d+ process\(es\) an earlier run of this instance left", log)


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
    # The first page after every instance restarted meets cold processes (their first
    # database connection, their first event): as the killed-instance test, allow for it.
    expect(page.get_by_test_id("profile-email")).to_have_text(user.email, timeout=20_000)


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


_LOCK_WAIT_SECONDS = 20

# Lua scripts that flush Redis in one step: at once (between the tab's events), or only while
# an event of the tab (KEYS[1] is its lock) holds its lock (its approval watcher takes it
# every few seconds), the worst moment for a restart. A lock of another tab (a closed one's
# watcher, ending) would not do: the tab's own state would be lost while idle.
_FLUSH_NOW = "redis.call('flushdb') return 1"
_FLUSH_WHILE_LOCKED = (
    "if redis.call('exists', KEYS[1]) == 1 then redis.call('flushdb') return 1 end return 0"
)


@pytest.mark.parametrize("flush", [_FLUSH_NOW, _FLUSH_WHILE_LOCKED], ids=["idle", "locked"])
def test_when_redis_loses_the_state_the_browser_lands_on_a_working_page(
    cluster: ClusterProcess, open_page, user: Account, flush: str
) -> None:
    page = open_page()
    sign_in_to_profile(page, user)
    token = page.evaluate("window.sessionStorage.getItem('token')")
    flush_redis = redis.Redis.from_url(cluster.redis_url).register_script(flush)
    # The tab notices by itself, without a click (an event that held the lock could not
    # save; or its watcher finds a state made anew), and reloads, presenting its token again:
    # within a few of the watcher's rounds after the flush, however long the wait for a lock.
    with page.expect_event("load", timeout=(_LOCK_WAIT_SECONDS + 3 * RENEW_LEASE_SECONDS) * 1000):
        deadline = time.monotonic() + _LOCK_WAIT_SECONDS
        while not flush_redis(keys=[f"{token}_lock"]):
            assert time.monotonic() < deadline, "no event of the tab ever held its lock"

    # Signed in again from the database session, and the page works.
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(user.email)
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_be_visible()
    page.reload()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(user.email)


# --- the session boundary and approvals across instances ---------------------------------


def _redis_values(cluster: ClusterProcess) -> bytes:
    """Everything Reflex keeps in the cluster's Redis database, as bytes."""
    client = redis.Redis.from_url(cluster.redis_url)
    try:
        chunks = []
        for key in client.scan_iter(count=500):
            kind = client.type(key)
            if kind == b"string":
                chunks.append(client.get(key) or b"")
            elif kind == b"hash":
                chunks.extend(v for v in client.hgetall(key).values())
        return b"\n".join(chunks)
    finally:
        client.close()


def test_redis_holds_no_token_secret_or_code(cluster: ClusterProcess, open_page, user) -> None:
    page = open_page(instance=1)
    sign_in_to_profile(page, user)
    token = page.evaluate("localStorage.getItem('rxapp_session')")
    page.get_by_test_id("enable-2fa").click()
    secret = page.get_by_test_id("enroll-secret").inner_text().replace(" ", "")
    assert token and secret
    during_enrolment = _redis_values(cluster)
    assert token.encode() not in during_enrolment
    assert secret.encode() not in during_enrolment
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("enroll-check").click()
    codes = page.get_by_test_id("backup-code")
    expect(codes).to_have_count(5)
    shown = codes.all_inner_texts()
    during_reveal = _redis_values(cluster)
    # What was scanned is this tab's state: it shows the account's email.
    assert user.email.encode() in during_reveal
    for code in shown:
        assert code.encode() not in during_reveal
        assert code.replace("-", "").encode() not in during_reveal
    assert token.encode() not in during_reveal


def _signed_in_with_2fa(open_page, account: TwoFactorAccount, instance: int) -> Page:
    page = open_page(instance=instance)
    _at_passcode(page, account.account)
    page.get_by_test_id("passcode-input").fill(account.backup_codes[instance])
    page.get_by_test_id("passcode-submit").click()
    expect(page).to_have_url(PROFILE_URL)
    return page


def _approval_asked(
    open_page, account: TwoFactorAccount, *, phone_on: int, laptop_on: int
) -> tuple[Page, Page, str]:
    """The account signed in with 2FA on a phone (on instance `phone_on`), asked by a
    laptop's sign-in (on `laptop_on`) to approve it: the phone shows the three numbers.
    Returns the phone, the laptop and the number the laptop shows."""
    phone = _signed_in_with_2fa(open_page, account, instance=phone_on)
    laptop = open_page(instance=laptop_on)
    _at_passcode(laptop, account.account)
    laptop.get_by_test_id("passcode-request-approval").click()
    number = laptop.get_by_test_id("approval-number")
    expect(number).to_have_text(re.compile(r"^\d{2}$"))
    expect(phone.get_by_test_id("approval-choice")).to_have_count(3)
    return phone, laptop, number.inner_text()


def test_a_sign_in_asked_on_one_instance_is_approved_on_the_other(
    cluster: ClusterProcess, open_page, user_2fa: TwoFactorAccount
) -> None:
    phone, laptop, number = _approval_asked(open_page, user_2fa, phone_on=2, laptop_on=1)
    phone.get_by_test_id("approval-choice").filter(has_text=number).click()
    expect(laptop).to_have_url(PROFILE_URL)


def test_a_signed_in_device_still_approves_after_its_instance_is_killed(
    cluster: ClusterProcess, open_page, user_2fa: TwoFactorAccount
) -> None:
    phone, laptop, number = _approval_asked(open_page, user_2fa, phone_on=1, laptop_on=2)
    leader = psutil.Process(cluster.status()[1][1])
    group = [leader, *leader.children(recursive=True)]
    with phone.expect_websocket(timeout=20_000):
        old_pid = cluster.kill_group(1)
    wait_for(lambda: not alive(group), timeout=10, what="the killed instance gone")
    # The phone's tab is now served by instance 2, and so is its watcher (the lease the
    # killed one left in Redis is not waited out). The numbers lived in the killed
    # process's memory: the dialog is shown again from instance 2, and its numbers stay
    # through the updates instance 2 sends (a lease renewal within 5 s, for one).
    phone.wait_for_timeout(7_000)
    choices = phone.get_by_test_id("approval-choice")
    expect(choices).to_have_count(3, timeout=10_000)
    expect(choices.filter(has_text=number)).to_have_count(1)
    choices.filter(has_text=number).click()
    expect(laptop).to_have_url(PROFILE_URL)
    cluster.running_pid(1, not_pid=old_pid, timeout=30)  # back before the next test


def test_two_devices_answering_at_once_make_exactly_one_decision(
    cluster: ClusterProcess, open_page, user_2fa: TwoFactorAccount
) -> None:
    phones = [_signed_in_with_2fa(open_page, user_2fa, instance=n) for n in (1, 2)]
    laptop = open_page(instance=1)
    _at_passcode(laptop, user_2fa.account)
    laptop.get_by_test_id("passcode-request-approval").click()
    number = laptop.get_by_test_id("approval-number")
    expect(number).to_have_text(re.compile(r"^\d{2}$"))
    right = number.inner_text()
    for phone in phones:
        expect(phone.get_by_test_id("approval-choice")).to_have_count(3)
    # Both answer without waiting for each other: one approves, the other denies.
    approve = phones[0].get_by_test_id("approval-choice").filter(has_text=right)
    deny = phones[1].get_by_test_id("approval-deny")
    approve.dispatch_event("click")
    deny.dispatch_event("click")
    for phone in phones:
        expect(phone.get_by_test_id("approval-request")).to_have_count(0)
    user_id = _user(cluster, user_2fa.account.email).id

    def decided() -> list[str] | None:
        with session_for(cluster.db_url) as db:
            events = db.exec(
                select(AuditEvent.event).where(
                    AuditEvent.user_id == user_id,
                    AuditEvent.event.in_(["approval_granted", "approval_denied"]),
                )
            ).all()
        return list(events) or None

    decisions = wait_for(decided, timeout=10, what="the request was decided")
    assert len(decisions) == 1
    if decisions == ["approval_granted"]:
        expect(laptop).to_have_url(PROFILE_URL)
    else:
        expect(laptop.get_by_test_id("approval-message")).to_contain_text(
            re.compile("denied|did not match")
        )


def _written_during(store: redis.Redis, key: str, seconds: float) -> bool:
    """Whether anything wrote `key` in the next `seconds` (every write resets its time to
    live; untouched, it only runs down)."""
    before = store.pttl(key)
    time.sleep(seconds)
    return store.pttl(key) > before - seconds * 1000 + 500


def test_a_closed_tab_stops_costing_the_server(cluster: ClusterProcess, open_page, user) -> None:
    page = open_page()
    sign_in_to_profile(page, user)
    token = page.evaluate("window.sessionStorage.getItem('token')")
    store = redis.Redis.from_url(cluster.redis_url)
    keys = [key.decode() for key in store.scan_iter(match=f"{token}_*", count=500)]
    # The state the approval watcher renews its lease in, every few seconds while open.
    key = next(key for key in keys if key.endswith("approval_state"))
    assert _written_during(store, key, 2 * RENEW_LEASE_SECONDS)

    # The watcher belongs to the page's on_load chain, which Reflex cancels when the tab's
    # connection closes (a reconnect runs on_load again, and so starts a new one).
    page.close()
    time.sleep(RENEW_LEASE_SECONDS + 1)
    assert not _written_during(store, key, 2 * RENEW_LEASE_SECONDS)
