"""End-to-end helpers: flows written only against routes and data-testids."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Locator, Page, WebSocket, WebSocketRoute, expect

from rxapp.testing import Account

PROFILE_URL = re.compile(r"/profile/?$")
LOGIN_URL = re.compile(r"/login/?$")
PASSCODE_URL = re.compile(r"/passcode/?$")
MALFORMED_CODE = "0"  # neither a TOTP nor a backup code: refused without counting a try
FORMAT_HINT = "6-digit code"  # in the answer to a malformed code once no wait is due


def sign_in(page: Page, account: Account, *, password: str | None = None) -> None:
    """Fill and submit the login form (does not wait for the outcome)."""
    page.goto("/login")
    page.get_by_test_id("login-email").fill(account.email)
    page.get_by_test_id("login-password").fill(
        password if password is not None else account.password
    )
    page.get_by_test_id("login-submit").click()


def sign_in_to_profile(page: Page, account: Account) -> None:
    """Sign in an account without 2FA and wait for its profile."""
    sign_in(page, account)
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(account.email)


@pytest.fixture
def received_frames(page: Page) -> list[str]:
    """Every websocket frame the page receives, as text."""
    frames: list[str] = []

    def record(payload: str | bytes) -> None:
        frames.append(payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))

    def watch(ws: WebSocket) -> None:
        ws.on("framereceived", record)

    page.on("websocket", watch)
    return frames


@dataclass
class TwoFactor:
    """What a test learned while turning 2FA on: the key and the first backup codes."""

    secret: str
    backup_codes: list[str]
    enrolment_code: str
    """The code that confirmed enrolment (its time step is spent)."""

    def code(self, *, steps_ahead: int = 0) -> str:
        """The authenticator code now, or `steps_ahead` 30-second steps later."""
        return pyotp.TOTP(self.secret).at(time.time() + 30 * steps_ahead)


GROUPED_KEY = re.compile(r"^[A-Z2-7]{4}( [A-Z2-7]{4})+$")


def enrolment_key(page: Page, *, not_: str | None = None) -> str:
    """The manual key the enable dialog shows, as shown (grouped), once the server has sent
    it (and, with `not_`, once it differs from that earlier key)."""
    key = page.get_by_test_id("enroll-secret")
    expect(key).to_have_text(GROUPED_KEY)
    if not_ is not None:
        expect(key).not_to_have_text(not_)
    return key.inner_text()


def enable_2fa_until_the_codes(page: Page) -> tuple[str, str]:
    """On the profile of a freshly signed-in user: enable 2FA, up to the first backup codes
    on screen (still open); the key and the code that confirmed it."""
    page.get_by_test_id("enable-2fa").click()
    secret = enrolment_key(page).replace(" ", "")
    code = pyotp.TOTP(secret).now()
    page.get_by_test_id("enroll-code").fill(code)
    page.get_by_test_id("enroll-check").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)
    return secret, code


def enable_2fa(page: Page) -> TwoFactor:
    """On the profile of a freshly signed-in user: enable 2FA, read the key and backup codes."""
    secret, code = enable_2fa_until_the_codes(page)
    codes = page.get_by_test_id("backup-code").all_inner_texts()
    page.get_by_test_id("backup-close").click()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Activated")
    return TwoFactor(secret=secret, backup_codes=codes, enrolment_code=code)


def field_emptied(page: Page, field: str) -> None:
    """Wait until the server has emptied `field`, as it does when it refuses what was typed
    there: so that it cannot empty what is typed next, and so that an error shown after
    this is the answer to that value, not one left from before."""
    expect(page.get_by_test_id(field)).to_have_value("")


def keep_trying(
    attempt: Callable[[], None],
    succeeded: Callable[[float], None],
    *,
    timeout: float = 60,
    answer_within: float = 1.0,
) -> None:
    """Repeat `attempt` until `succeeded(seconds)` (a Playwright `expect` given its timeout in
    seconds) passes, for at most `timeout` seconds. Only for attempts that change nothing when
    refused, such as a try during a throttle's wait."""
    deadline = time.monotonic() + timeout
    while True:
        attempt()
        try:
            succeeded(answer_within)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def wait_out_the_backoff(page: Page, *, field: str, submit: str, error: str) -> None:
    """Wait until the account's backoff after a failed code is over, asking the server itself.

    A malformed code is never counted as a try: while the account must wait, the answer says
    "Try again in ..."; once it may try again, the answer asks for the code's format. So
    submit one until that second answer shows (no fixed sleep: the server's clock decides).
    """

    def probe() -> None:
        page.get_by_test_id(field).fill(MALFORMED_CODE)
        page.get_by_test_id(submit).click()

    def answered(seconds: float) -> None:
        expect(page.get_by_test_id(error)).to_contain_text(FORMAT_HINT, timeout=seconds * 1000)
        # The server also empties the field after a refused code: wait for that too, or it
        # could empty the code typed next (see `field_emptied`).
        expect(page.get_by_test_id(field)).to_have_value("", timeout=seconds * 1000)

    keep_trying(probe, answered)


def _poll(page: Page, done: Callable[[], bool], message: Callable[[], str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, message()
        page.wait_for_timeout(50)  # lets Playwright deliver the frame events meanwhile


def wait_for_frames(frames: list[str], count: int, page: Page, *, timeout: float = 15) -> None:
    """Wait until at least `count` websocket frames were received (polling, with a deadline)."""
    _poll(
        page,
        lambda: len(frames) >= count,
        lambda: f"{len(frames)} frames received, waited for {count}",
        timeout,
    )


def wait_for_frame_with(
    frames: list[str], text: str, page: Page, *, start: int = 0, timeout: float = 15
) -> None:
    """Wait until a websocket frame received after the first `start` ones contains `text`."""
    _poll(
        page,
        lambda: any(text in frame for frame in frames[start:]),
        lambda: f"no frame after the first {start} contained {text!r}",
        timeout,
    )


def generate_backup_codes(page: Page, proof: str) -> list[str]:
    """New backup codes on the profile, through the stable interface alone: prove it with
    `proof` (a code: new codes always ask for one) and read the new batch."""
    page.get_by_test_id("generate-backup-codes").click()
    page.get_by_test_id("reauth-input").fill(proof)
    page.get_by_test_id("reauth-submit").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)
    return page.get_by_test_id("backup-code").all_inner_texts()


def sign_in_admin(page: Page, admin: Account) -> TwoFactor:
    """Sign an admin in and turn 2FA on: All users is open to admins with 2FA only."""
    sign_in_to_profile(page, admin)
    return enable_2fa(page)


def sign_in_with_code(page: Page, account: Account, code: str) -> None:
    """Password step, then the passcode step with `code` (does not wait for the outcome)."""
    sign_in(page, account)
    expect(page).to_have_url(PASSCODE_URL)
    page.get_by_test_id("passcode-input").fill(code)
    page.get_by_test_id("passcode-submit").click()


def sign_out(page: Page) -> None:
    """Use the logout button and wait for the login page."""
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(LOGIN_URL)


class HeldUpdates:
    """Relays the page's websocket, holding the server's state updates (not the handshake)
    while `holding` (from the start unless told otherwise) until `release`, and counting
    the events the page sends whose name contains `counting` (a form's submit handler)."""

    def __init__(
        self, page: Page, *, holding: bool = True, counting: str = "login_state.submit"
    ) -> None:
        self.held: list[str | bytes] = []
        self.holding = holding
        self.counting = counting
        self.submits = 0
        self._route: WebSocketRoute | None = None
        page.route_web_socket(re.compile(r"/_event"), self._relay)

    def _relay(self, route: WebSocketRoute) -> None:
        self._route = route
        server = route.connect_to_server()

        def to_server(message: str | bytes) -> None:
            self.submits += self.counting in str(message)
            server.send(message)

        def to_page(message: str | bytes) -> None:
            if self.holding and str(message).startswith("42"):
                self.held.append(message)
            else:
                route.send(message)

        route.on_message(to_server)
        server.on_message(to_page)

    def press_twice_unanswered(
        self, page: Page, submit: Locator, again: Callable[[], None]
    ) -> None:
        """Submit with `submit`, then `again` while the answer is held: one event leaves."""
        self.holding = True
        submit.click()
        expect(submit).to_have_attribute("aria-busy", "true")
        again()
        page.wait_for_timeout(300)  # time for a second event to leave, were it sent
        assert self.submits == 1

    def wait_for_submits(self, page: Page, count: int, *, timeout: float = 5) -> None:
        """Wait until `count` submits have left the page (polling, with a deadline)."""
        _poll(
            page,
            lambda: self.submits >= count,
            lambda: f"{self.submits} submits sent, waited for {count}",
            timeout,
        )
        assert self.submits == count

    def release(self) -> None:
        assert self._route is not None
        self.holding = False
        for message in self.held:
            self._route.send(message)
        self.held.clear()


class EventForger:
    """Sends events the UI would never send, over the page's own websocket."""

    def __init__(self, page: Page) -> None:
        self._server: WebSocketRoute | None = None
        page.route_web_socket(re.compile(r"/_event"), self._relay)

    def _relay(self, route: WebSocketRoute) -> None:
        self._server = route.connect_to_server()

    def send(self, handler: str, payload: dict[str, Any], *, path: str) -> None:
        """Call `handler` (a full Reflex event name) with `payload` as if from the page."""
        assert self._server is not None, "open a page first"
        event = {
            "name": handler,
            "payload": payload,
            "router_data": {"pathname": path, "asPath": path},
        }
        self._server.send("42/_event," + json.dumps(["event", event]))


@pytest.fixture
def forge(page: Page) -> EventForger:
    """Forge events from this page's websocket connection."""
    return EventForger(page)
