"""The session boundary, attacked over the real websocket: a tab id is not a credential,
forged events are refused quietly, and a reconnect keeps what is on screen."""

from __future__ import annotations

import json
import re
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect
from reflex.state import FrontendEventExceptionState
from sqlmodel import select
from websockets.sync.client import connect

from rxapp.browser_errors import MAX_REPORTS_PER_SOURCE
from rxapp.event_guard import MAX_REFUSAL_LINES_PER_SOURCE, MAX_REFUSALS_PER_CONNECTION
from rxapp.models import AuthSession, User
from rxapp.state.approvals import ApprovalState
from rxapp.state.auth import AuthState
from rxapp.state.login import LoginState
from rxapp.state.profile import ProfileState
from rxapp.state.profile_dialogs import BackupCodesState, DisableState, EnrollState, ReauthState
from rxapp.state.profile_passkeys import PasskeysState
from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import LOGIN_URL, PROFILE_URL, sign_in_to_profile

pytestmark = pytest.mark.e2e


def _full(state: type, handler: str) -> str:
    return f"{state.get_full_name()}.{handler}"


class SocketRelay:
    """Relays a page's event websocket to the server; can forge frames and cut the line."""

    def __init__(self, page: Page) -> None:
        self.connections: list[WebSocketRoute] = []
        self.received: list[str] = []
        page.route_web_socket(re.compile(r"/_event"), self._relay)

    def _relay(self, route: WebSocketRoute) -> None:
        server = route.connect_to_server()

        def to_page(message: str | bytes) -> None:
            self.received.append(message if isinstance(message, str) else message.decode())
            route.send(message)

        server.on_message(to_page)
        self.connections.append(server)

    def send(self, handler: str, payload: object, *, path: str) -> None:
        """Send an event the UI would never send, on the page's current connection."""
        event = {"name": handler, "payload": payload, "router_data": {"pathname": path}}
        self.connections[-1].send("42/_event," + json.dumps(["event", event]))

    def send_raw(self, data: object) -> None:
        """Send any JSON value as the event object."""
        self.connections[-1].send("42/_event," + json.dumps(["event", data]))

    def cut(self) -> None:
        """Close the page's connection from the server side, as a dying instance would."""
        self.connections[-1].close()

    def wait_for_reconnect(self, page: Page, *, after: int, timeout: float = 15.0) -> None:
        """Wait (polling, with a deadline) until the page opened a connection after `after`."""
        deadline = time.monotonic() + timeout
        while len(self.connections) <= after:
            assert time.monotonic() < deadline, "the page did not reconnect"
            page.wait_for_timeout(50)

    def wait_for_the_server_to_hang_up(self, page: Page, timeout: float = 15.0) -> None:
        """Wait (polling, with a deadline) until the server's disconnect packet reached the page."""
        deadline = time.monotonic() + timeout
        while not any(message.startswith("41/_event") for message in self.received):
            assert time.monotonic() < deadline, "the server did not hang up"
            page.wait_for_timeout(50)
        page.evaluate("() => 0")  # the page has handled the frames relayed before this

    def seen(self) -> str:
        return "\n".join(self.received)


def _tab_id(page: Page) -> str:
    return page.evaluate("window.sessionStorage.getItem('token')")


def _open_as_tab(browser: Browser, base_url: str, tab_id: str) -> tuple[Page, SocketRelay]:
    """A fresh browser (empty storage) that connects with someone else's tab id."""
    context = browser.new_context(base_url=base_url)
    context.add_init_script(f"window.sessionStorage.setItem('token', {json.dumps(tab_id)})")
    page = context.new_page()
    return page, SocketRelay(page)


def _wait_for_an_answer(page: Page) -> None:
    """A positive signal that the server has processed everything sent before: events of one
    tab are handled in order, so once this one is answered, so were the forged ones."""
    page.goto("/login")
    page.get_by_test_id("login-email").fill("nobody@example.com")
    page.get_by_test_id("login-password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).not_to_be_empty()


def _user(server: RxappServer, account: Account) -> User:
    with server.db() as db:
        return db.exec(select(User).where(User.email == account.email)).one()


def _attack_with_tab_id(
    attacker: Page, relay: SocketRelay, owner: Account, guess: Callable[[], str]
) -> None:
    attacker.goto("/profile")
    expect(attacker).to_have_url(LOGIN_URL)
    for state, handler, payload in [
        (ProfileState, "open_profile", {}),
        (EnrollState, "start", {}),
        (EnrollState, "submit", {"form": {"code": guess()}}),
        (BackupCodesState, "start", {}),
        (ReauthState, "submit", {"form": {"proof": owner.password}}),
        (DisableState, "submit", {"form": {"code": guess()}}),
        (AuthState, "logout", {}),
    ]:
        relay.send(_full(state, handler), payload, path="/profile")
    _wait_for_an_answer(attacker)


def test_a_tab_id_gives_nothing_once_the_owner_closed_the_tab(
    browser: Browser, page: Page, base_url: str, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    secret = page.get_by_test_id("enroll-secret").inner_text().replace(" ", "")
    tab_id = _tab_id(page)
    page.context.close()  # the owner closes the tab without logging out

    attacker, relay = _open_as_tab(browser, base_url, tab_id)
    _attack_with_tab_id(attacker, relay, rxapp_user, lambda: pyotp.TOTP(secret).now())

    seen = relay.seen()
    assert rxapp_user.email not in seen
    assert secret not in seen and secret[:8] not in seen.replace(" ", "")
    user = _user(rxapp_server, rxapp_user)
    assert user.totp_enabled_at is None and not user.twofa_active
    with rxapp_server.db() as db:
        live = db.exec(
            select(AuthSession).where(
                AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None)
            )
        ).all()
    assert len(live) == 1, "the owner's session was neither used nor ended by the attacker"


def test_a_tab_id_gives_nothing_while_the_owner_tab_is_open(
    browser: Browser, page: Page, base_url: str, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    secret = page.get_by_test_id("enroll-secret").inner_text().replace(" ", "")

    attacker, relay = _open_as_tab(browser, base_url, _tab_id(page))
    _attack_with_tab_id(attacker, relay, rxapp_user, lambda: pyotp.TOTP(secret).now())
    seen = relay.seen()
    assert rxapp_user.email not in seen
    assert secret not in seen
    assert _user(rxapp_server, rxapp_user).totp_enabled_at is None

    # The owner's own tab carries on as if nothing happened.
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)


MARKER = "PAYLOAD-MARKER-7f3a"
FORGED_EVENTS: list[object] = [
    {"name": "no.such.state.handler", "payload": {"x": MARKER}},
    {"name": _full(AuthState, "_as_user"), "payload": {"work": MARKER}},
    {"name": _full(LoginState, "submit"), "payload": {"form": {"email": MARKER}, "extra": 1}},
    {"name": _full(LoginState, "submit"), "payload": {"form": MARKER}},
    {"name": _full(LoginState, "submit"), "payload": {}},
    {"name": _full(EnrollState, "submit"), "payload": {"form": {"code": MARKER + "\x00"}}},
    {"name": "reflex___state____state.rxapp___state___users____users_state.ask_reset",
     "payload": {"user_id": 10**30}},
    {"name": _full(LoginState, "submit"), "payload": {"form": {"email": [[[[[[[[MARKER]]]]]]]]}}},
    {"name": _full(LoginState, "submit"), "payload": {"form": {"email": "x" * 70_000}}},
    {"name": 12, "payload": MARKER},
    [MARKER],
    MARKER,
    # Browser-storage vars that no state has: Reflex answered each with a traceback.
    {"name": "reflex___state____state.reflex___state____update_vars_internal_state"
             ".update_vars_internal", "payload": {"vars": {f"no.such.{MARKER}": "y"}}},
    {"name": "reflex___state____state.reflex___state____update_vars_internal_state"
             ".update_vars_internal", "payload": {"vars": {MARKER: "y"}}},
    {"name": "reflex___state____state.hydrate_and_load",
     "payload": {"vars": {f"reflex___state____state.{MARKER}": "y"}}},
]  # fmt: skip


def test_forged_events_are_refused_without_a_traceback_or_their_payload_in_the_log(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    relay = SocketRelay(page)
    sign_in_to_profile(page, rxapp_user)
    tab_id = _tab_id(page)
    offset = rxapp_server.log_size()
    for event in FORGED_EVENTS:
        relay.send_raw(event)
    # The forgeries were dropped; the tab still works for its owner.
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_have_text(re.compile(r"\w{4} "))

    log = rxapp_server.log_path.read_bytes()[offset:].decode("utf-8", "replace")
    assert "Traceback" not in log
    assert MARKER not in log
    assert tab_id not in log
    refusals = [line for line in log.splitlines() if "refused an event" in line]
    assert len(refusals) == len(FORGED_EVENTS), log[-2000:]


FORGED_LOG_LINE = "INFO rxapp.audit: sign_in_ok admin@example.com from 10.0.0.1"


def test_error_reports_and_odd_digits_from_anyone_leave_short_lines_and_no_traceback(
    page: Page, rxapp_server: RxappServer
) -> None:
    """Any connection can report a "browser error" with any text, and send digits that
    `str.isdigit` admits but `int` refuses: neither forges or floods the log."""
    relay = SocketRelay(page)
    page.goto("/login")
    page.wait_for_function("() => window.__rxLive === true")
    offset = rxapp_server.log_size()
    report = _full(FrontendEventExceptionState, "handle_frontend_exception")
    sent = 3 * MAX_REPORTS_PER_SOURCE
    for _ in range(sent):
        info = f"x\n{FORGED_LOG_LINE}\n" + "A" * 60_000
        relay.send(report, {"info": info, "component_stack": ""}, path="/login")
    for handler, payload in [
        (_full(ApprovalState, "choose"), {"number": "\u00b9\u00b2", "shown": ""}),
        (_full(PasskeysState, "start_remove"), {"passkey_id": "\u00b9\u00b2"}),
        (_full(PasskeysState, "start_rename"), {"passkey_id": "\u2460"}),
    ]:
        relay.send(handler, payload, path="/login")
    _wait_for_an_answer(page)

    log = rxapp_server.log_path.read_bytes()[offset:].decode("utf-8", "replace")
    assert "Traceback" not in log
    assert not [line for line in log.splitlines() if line.startswith(FORGED_LOG_LINE)]
    reported = [line for line in log.splitlines() if "a browser reported an error" in line]
    # One address's share of a minute's lines at most (twice that, when the reports straddle
    # the turn of a minute), and the log says at once that this address sent more.
    assert 0 < len(reported) <= 2 * MAX_REPORTS_PER_SOURCE < sent, log[-2000:]
    assert "rxapp: more browser error reports from 127.0.0.1 this minute" in log
    assert all(len(line) < 700 for line in reported)
    assert len(log) < 2 * 64_000  # 30 reports of 60 KB each came in


def test_a_connection_that_keeps_sending_forged_events_is_closed(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    """No page sends twenty refused events: a script does, and its log lines stop there."""
    relay = SocketRelay(page)
    sign_in_to_profile(page, rxapp_user)
    offset = rxapp_server.log_size()
    for _ in range(MAX_REFUSALS_PER_CONNECTION + 30):
        relay.send_raw({"name": "no.such.state.handler", "payload": {"x": MARKER}})
    log = ""
    for _ in range(100):
        log = rxapp_server.log_path.read_bytes()[offset:].decode("utf-8", "replace")
        if "closed a connection" in log:
            break
        page.wait_for_timeout(100)
    assert "closed a connection after 20 refused events" in log
    refusals = [line for line in log.splitlines() if "refused an event" in line]
    assert len(refusals) == MAX_REFUSALS_PER_CONNECTION
    # The page itself reconnects at its next event and carries on. A click sent before the
    # page heard the hang-up would go down the closing line (as seen in CI): no person is
    # that quick after a script's twentieth forged event.
    relay.wait_for_the_server_to_hang_up(page)
    page.get_by_test_id("enable-2fa").click()
    expect(page.get_by_test_id("enroll-secret")).to_have_text(re.compile(r"\w{4} "), timeout=15_000)


def test_a_connection_whose_first_event_is_forged_is_refused(
    page: Page, base_url: str, rxapp_server: RxappServer
) -> None:
    """Reflex links a new connection to its tab while handling the connection's first
    event: if that is refused, the connection must not stay open on the tab's state."""
    socket_url = base_url.replace("http://", "ws://") + "/_event/?EIO=4&transport=websocket"
    socket_url += "&token=forged-tab-id"
    offset = rxapp_server.log_size()
    with connect(socket_url, origin=base_url, open_timeout=10) as socket:
        socket.recv(timeout=10)  # Engine.IO open
        forged = {"event": {"name": "no.such.handler", "payload": {"x": MARKER}}}
        socket.send("40/_event," + json.dumps(forged))
        answer = socket.recv(timeout=10)
    assert answer.startswith("44/_event"), answer  # CONNECT_ERROR: refused
    log = rxapp_server.log_path.read_bytes()[offset:].decode("utf-8", "replace")
    assert "refused an event" in log and MARKER not in log and "Traceback" not in log


def _forge_first_event(base_url: str, handler: str, *, from_address: str) -> str:
    """Connect from `from_address` (a loopback address) and send a forged first event;
    the server's answer."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10, source_address=(from_address, 0))
    url = base_url.replace("http://", "ws://") + "/_event/?EIO=4&transport=websocket"
    with connect(url + "&token=flood-tab", sock=sock, origin=base_url, open_timeout=10) as ws:
        ws.recv(timeout=10)  # Engine.IO open
        ws.send("40/_event," + json.dumps({"event": {"name": handler, "payload": {}}}))
        return str(ws.recv(timeout=10))


def test_a_flood_of_forged_events_from_one_address_does_not_hide_another_s(
    base_url: str, rxapp_server: RxappServer
) -> None:
    offset = rxapp_server.log_size()
    for _ in range(MAX_REFUSAL_LINES_PER_SOURCE + 5):  # one connection each: no per-connection cap
        answer = _forge_first_event(base_url, "no.such.flood", from_address="127.0.0.2")
        assert answer.startswith("44/_event"), answer
    _forge_first_event(base_url, "no.such.probe", from_address="127.0.0.1")

    log = rxapp_server.log_path.read_bytes()[offset:].decode("utf-8", "replace")
    flood = [line for line in log.splitlines() if "no.such.flood" in line]
    assert len(flood) == MAX_REFUSAL_LINES_PER_SOURCE, log[-2000:]
    assert "rxapp: more refused events from 127.0.0.2 this minute than the log takes" in log
    assert "unknown handler no.such.probe" in log


def test_a_reconnect_in_the_middle_of_the_reveal_keeps_the_codes_and_the_countdown(
    page: Page, rxapp_user: Account
) -> None:
    relay = SocketRelay(page)
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    secret = page.get_by_test_id("enroll-secret").inner_text().replace(" ", "")
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("enroll-check").click()
    codes = page.get_by_test_id("backup-code")
    expect(codes).to_have_count(5)
    shown = codes.all_inner_texts()
    connections = len(relay.connections)

    relay.cut()
    relay.wait_for_reconnect(page, after=connections)
    # Let the countdown tick on the new connection, then check nothing was lost.
    countdown = page.get_by_test_id("backup-countdown")
    first = int(countdown.inner_text())
    expect(countdown).not_to_have_text(str(first), timeout=5_000)
    assert codes.all_inner_texts() == shown
    assert 0 < int(countdown.inner_text()) < first
    expect(page).to_have_url(PROFILE_URL)


def test_a_reconnect_with_the_enable_dialog_open_keeps_it_open_with_the_same_key(
    page: Page, rxapp_user: Account
) -> None:
    relay = SocketRelay(page)
    sign_in_to_profile(page, rxapp_user)
    page.get_by_test_id("enable-2fa").click()
    key = page.get_by_test_id("enroll-secret")
    before = key.inner_text()
    connections = len(relay.connections)
    relay.cut()
    relay.wait_for_reconnect(page, after=connections)
    # A click right after the reconnect is not lost: it is answered on the new connection.
    page.get_by_test_id("enroll-code").fill("12345")
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("enroll-error")).not_to_be_empty()
    assert key.inner_text() == before
    expect(page.get_by_test_id("enroll-qr")).to_be_visible()


def test_the_state_store_and_the_files_hold_no_token_secret_or_code(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    token = page.evaluate("localStorage.getItem('rxapp_session')")
    page.get_by_test_id("enable-2fa").click()
    secret = page.get_by_test_id("enroll-secret").inner_text().replace(" ", "")
    page.get_by_test_id("enroll-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)
    codes = page.get_by_test_id("backup-code").all_inner_texts()

    # The embedded default keeps tab state in memory: no state files to read at all.
    states = Path(rxapp_server.root) / ".states"
    stored = b"".join(p.read_bytes() for p in states.rglob("*") if p.is_file())
    for needle in [token, secret, *codes, *(c.replace("-", "") for c in codes)]:
        assert needle.encode() not in stored
    database = Path(rxapp_server.db_url.split(":///", 1)[1])
    for path in [database, database.with_suffix(".key")]:
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
