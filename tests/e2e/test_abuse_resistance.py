"""Abuse resistance and admin policy in a real browser: security headers, same origin only,
no lockout by strangers, admins with 2FA, a useful audit trail, fresh proofs."""

from __future__ import annotations

import re

import pytest
import websockets
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select
from websockets.sync.client import connect

from rxapp.models import AuditEvent, User
from rxapp.services import throttle
from rxapp.services.clock import utcnow
from rxapp.state.users import UsersState
from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import (
    PASSCODE_URL,
    PROFILE_URL,
    EventForger,
    enable_2fa,
    sign_in,
    sign_in_to_profile,
    sign_in_with_code,
    sign_out,
)

pytestmark = pytest.mark.e2e
USERS_URL = re.compile(r"/users/?(\?.*)?$")
ROUTES = ["/", "/login/", "/passcode/", "/profile/", "/users/", "/no-such-page/", "/ping"]


def _assert_security_headers(headers: dict[str, str], *, no_store: bool) -> None:
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "no-referrer"
    assert "camera=()" in headers.get("permissions-policy", "")
    if no_store:
        assert headers.get("cache-control") == "no-store"


def test_every_route_carries_the_security_headers(page: Page, base_url: str) -> None:
    for route in [*ROUTES, "/api/users.csv?token=forged"]:
        response = page.request.get(base_url + route, max_redirects=0)
        _assert_security_headers(response.headers, no_store=True)
    html = page.request.get(base_url + "/login/").text()
    script = re.search(r'"(/assets/[^"]+\.js)"', html)
    assert script, "the login page loads its script from /assets/"
    asset = page.request.get(base_url + script.group(1))
    assert asset.ok
    _assert_security_headers(asset.headers, no_store=False)


def test_the_app_runs_under_its_csp_without_a_violation(page: Page, rxapp_user: Account) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in_to_profile(page, rxapp_user)
    enable_2fa(page)  # QR code (a data: image), scripts, styles, the websocket
    assert violations == []


def test_another_site_cannot_frame_the_profile(
    page: Page, base_url: str, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)
    page.route(
        "http://attacker.test/",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<iframe id="victim" src="{base_url}/profile/"></iframe>',
        ),
    )
    page.goto("http://attacker.test/")
    frame_element = page.locator("#victim")
    expect(frame_element).to_be_attached()
    frame = frame_element.element_handle().content_frame()
    frame.wait_for_load_state()
    assert frame.locator("[data-testid=logout]").count() == 0
    assert frame.locator("[data-testid=enable-2fa]").count() == 0


def test_http_and_the_websocket_refuse_another_origin(page: Page, base_url: str) -> None:
    own = page.request.get(base_url + "/login/", headers={"Origin": base_url})
    assert own.ok
    foreign = page.request.get(base_url + "/login/", headers={"Origin": "https://evil.example"})
    assert foreign.status == 403
    preflight = page.request.fetch(
        base_url + "/_event/",
        method="OPTIONS",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status == 403  # ours, before Reflex's CORS layer answers it
    assert "access-control-allow-origin" not in preflight.headers
    _assert_security_headers(preflight.headers, no_store=True)
    # A preflight from the app's own address reaches that layer, and still leaves with them.
    own_preflight = page.request.fetch(
        base_url + "/_event/",
        method="OPTIONS",
        headers={"Origin": base_url, "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in own_preflight.headers
    _assert_security_headers(own_preflight.headers, no_store=True)

    socket_url = base_url.replace("http://", "ws://") + "/_event/?EIO=4&transport=websocket"

    def handshake(origin: str) -> int:
        try:
            with connect(socket_url, origin=origin, open_timeout=10) as socket:
                socket.recv(timeout=10)  # the Engine.IO open packet
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    assert handshake(base_url) == 101
    assert handshake("https://evil.example") == 403


@pytest.mark.slow
def test_a_strangers_wrong_passwords_never_delay_the_owners_own_browser(
    browser: Browser, page: Page, base_url: str, rxapp_user: Account
) -> None:
    sign_in_to_profile(page, rxapp_user)  # the owner's browser is now a known device
    sign_out(page)

    stranger = browser.new_context(base_url=base_url).new_page()
    try:
        # Eight checked wrong passwords (refused early tries do not count): 8 s to wait now.
        checked = 0
        while checked < 8:
            sign_in(stranger, rxapp_user, password="not-the-password")
            error = stranger.get_by_test_id("login-error")
            expect(error).not_to_be_empty()
            checked += error.inner_text().startswith("Incorrect")
        # The stranger's own right guess would wait too ...
        sign_in(stranger, rxapp_user)
        expect(stranger.get_by_test_id("login-error")).to_contain_text("Too many failed attempts")
        # ... and sees the wait counted down.
        left = stranger.get_by_test_id("login-wait")
        expect(left).to_have_text(re.compile(r"^\d+ seconds? left\.$"))
    finally:
        stranger.context.close()
    # ... while the owner signs in from their own browser at once.
    sign_in(page, rxapp_user)
    expect(page).to_have_url(PROFILE_URL)


def test_an_admin_without_2fa_is_refused_the_dashboard_and_every_handler(
    page: Page,
    rxapp_admin: Account,
    rxapp_user: Account,
    forge: EventForger,
    received_frames: list[str],
) -> None:
    sign_in_to_profile(page, rxapp_admin)
    page.goto("/users")
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-notice")).to_contain_text("two-factor authentication")
    start = len(received_frames)
    handler = f"{UsersState.get_full_name()}."
    for name, payload in [
        ("open_users", {}),
        ("set_status_filter", {"value": "activated"}),
        ("set_search", {"value": rxapp_user.email[:6]}),
        ("export_csv", {}),
        ("next_page", {}),
    ]:
        forge.send(handler + name, payload, path="/users")
    # A positive signal that the forged events were answered: the refusal's notice again.
    page.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_test_id("profile-notice")).to_have_count(0)
    forge.send(handler + "open_users", {}, path="/users")
    expect(page.get_by_test_id("profile-notice")).to_contain_text("two-factor authentication")
    seen = "\n".join(received_frames[start:])
    assert rxapp_user.email not in seen
    assert "api/users.csv" not in seen

    # With 2FA on, the same admin reaches the dashboard. Each refusal above sent the page to
    # /profile, whose load may still be on its way and would close a dialog opened now: a
    # fresh load of the page comes after them all.
    page.goto("/profile")
    page.wait_for_function("() => window.__rxLive === true")
    enable_2fa(page)
    page.goto("/users")
    expect(page).to_have_url(USERS_URL)
    expect(page.get_by_test_id("users-table")).to_be_visible()


def test_a_strangers_wrong_codes_never_lock_the_owners_own_browser(
    browser: Browser, page: Page, base_url: str, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)
    # A sign-in with a second factor makes the owner's browser one with codes of its own.
    sign_in_with_code(page, rxapp_user, twofa.backup_codes[0])
    expect(page).to_have_url(PROFILE_URL)
    sign_out(page)
    # A stranger who has the password tried wrong codes until the cap: what the app keeps
    # after 20 of them (the last ten 15 minutes apart) is put there at once.
    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == rxapp_user.email)).one()
        user.second_factor_failures = throttle.CAP
        user.second_factor_blocked_until = utcnow() + throttle.LOCKOUT
        db.add(user)
        db.commit()
    code = twofa.code(steps_ahead=1)

    stranger = browser.new_context(base_url=base_url).new_page()
    try:
        sign_in_with_code(stranger, rxapp_user, code)  # even the right code
        error = stranger.get_by_test_id("passcode-error")
        expect(error).to_contain_text("codes from the app no longer work in this browser")
        expect(error).to_contain_text(
            "a browser where you have used two-factor authentication before"
        )
    finally:
        stranger.context.close()
    # The owner signs in from their own browser at once, with an app code.
    sign_in_with_code(page, rxapp_user, code)
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)


def test_audit_rows_carry_the_address_the_browser_and_the_session(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == rxapp_user.email)).one()
        row = db.exec(
            select(AuditEvent)
            .where(AuditEvent.user_id == user.id, AuditEvent.event == "sign_in_ok")
            .order_by(AuditEvent.id.desc())
        ).first()
    assert row is not None
    assert row.ip == "127.0.0.1"
    assert "Chrome" in row.user_agent
    # The owner sees it too, in plain words.
    activity = page.get_by_test_id("activity-row").first
    expect(activity).to_contain_text("Signed in")
    expect(activity).to_contain_text("127.0.0.1")


def test_new_backup_codes_always_need_a_current_code(page: Page, rxapp_user: Account) -> None:
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)
    sign_in(page, rxapp_user)
    expect(page).to_have_url(PASSCODE_URL)
    page.get_by_test_id("passcode-input").fill(twofa.code(steps_ahead=1))
    page.get_by_test_id("passcode-submit").click()
    expect(page).to_have_url(PROFILE_URL)
    # Signed in seconds ago, with a code: still, new codes ask for one of their own.
    page.get_by_test_id("generate-backup-codes").click()
    expect(page.get_by_test_id("reauth-input")).to_be_visible()
    expect(page.get_by_test_id("backup-code")).to_have_count(0)
    page.get_by_test_id("reauth-input").fill(twofa.backup_codes[0])
    page.get_by_test_id("reauth-submit").click()
    expect(page.get_by_test_id("backup-code")).to_have_count(5)


def test_a_user_signing_in_past_the_grace_period_is_sent_to_set_up_2fa(
    page: Page, rxapp_server: RxappServer
) -> None:
    admin = rxapp_server.create_user(admin=True)
    with rxapp_server.db() as db:
        user = db.exec(select(User).where(User.email == admin.email)).one()
        user.created_at = user.created_at.replace(year=user.created_at.year - 1)
        db.add(user)
        db.commit()
    sign_in(page, admin)
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-notice")).to_contain_text("required")
    expect(page.get_by_test_id("enroll-secret")).to_have_text(re.compile(r"\w{4} \w{4}"))
    # Closing it is no way out: every later visit to the profile opens it again.
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("enroll-secret")).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("enroll-secret")).to_have_text(re.compile(r"\w{4} \w{4}"))
    page.keyboard.press("Escape")
    page.goto("/users")  # closed to an admin without 2FA: back to the profile
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("enroll-secret")).to_have_text(re.compile(r"\w{4} \w{4}"))
    # A dialog the person opened stays theirs across a reload: the setup waits.
    page.keyboard.press("Escape")
    page.get_by_test_id("change-password").click()
    expect(page.get_by_test_id("password-current")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("password-current")).to_be_visible()
    page.wait_for_timeout(500)  # what the reload's on_load sent has been answered
    expect(page.get_by_test_id("enroll-secret")).to_have_count(0)
