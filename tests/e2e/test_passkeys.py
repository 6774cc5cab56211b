"""Passkeys in Chromium, with its virtual authenticator (CDP `WebAuthn` domain): register,
the second step, sign-in with a passkey alone, and what an attacker's browser tries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import CDPSession, Page, expect
from sqlalchemy import update
from sqlmodel import select

from rxapp.models import AuditEvent, AuthSession, Passkey, User
from rxapp.services import accounts
from rxapp.services.clock import utcnow
from rxapp.services.mfa.passkeys.flows import INSECURE_ADDRESS
from rxapp.state.profile_passkeys import PasskeysState
from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import (
    LOGIN_URL,
    PASSCODE_URL,
    PROFILE_URL,
    EventForger,
    enable_2fa,
    sign_in,
    sign_in_to_profile,
    sign_in_with_code,
    sign_out,
)
from tests.e2e.people import assert_accessible

pytestmark = pytest.mark.e2e


@dataclass
class VirtualAuthenticator:
    """A platform authenticator with resident keys and user verification (Touch ID-like)."""

    cdp: CDPSession
    id: str

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]


@pytest.fixture
def authenticator(page: Page) -> VirtualAuthenticator:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return VirtualAuthenticator(cdp, added["authenticatorId"])


def add_passkey(page: Page, name: str = "This laptop") -> list[str]:
    """On the profile (fresh sign-in): add a passkey; the backup codes shown if it was the
    account's first 2FA method (closed again)."""
    page.get_by_test_id("add-passkey").click()
    page.get_by_test_id("passkey-name").fill(name)
    page.get_by_test_id("passkey-save").click()
    expect(page.get_by_test_id("passkey-row").filter(has_text=name)).to_have_count(1)
    codes: list[str] = []
    if page.get_by_test_id("backup-code").count() or page.get_by_test_id("backup-close").count():
        expect(page.get_by_test_id("backup-code")).to_have_count(5)
        codes = page.get_by_test_id("backup-code").all_inner_texts()
        page.get_by_test_id("backup-close").click()
    return codes


def give_passkey(server: RxappServer, account: Account, name: str, credential_id: str) -> int:
    """Store a passkey of a device this browser does not have (2FA on); the account's id."""
    with server.db() as db:
        user = db.exec(select(User).where(User.email == account.email)).one()
        db.add(
            Passkey(
                user_id=user.id,
                credential_id=credential_id,
                public_key="AA",
                name=name,
                created_at=utcnow(),
            )
        )
        user.twofa_active = True
        db.add(user)
        db.commit()
        return user.id


def passkeys_ready(page: Page) -> None:
    """Wait until the browser module is loaded (its script tag runs after hydration)."""
    page.wait_for_function("() => !!window.rxappPasskeys")


def test_register_then_second_step_then_sign_in_with_the_passkey_alone(
    page: Page, rxapp_user: Account, authenticator: VirtualAuthenticator
) -> None:
    sign_in_to_profile(page, rxapp_user)
    expect(page.get_by_test_id("passkeys-empty")).to_be_visible()
    page.get_by_test_id("add-passkey").click()
    expect(page.get_by_test_id("passkey-name")).to_be_focused()
    assert_accessible(page, "the add-a-passkey dialog")
    page.get_by_test_id("passkey-name").fill("Work laptop")
    page.get_by_test_id("passkey-save").click()
    # The first 2FA method: backup codes, with the same 30-second reveal.
    expect(page.get_by_test_id("backup-code")).to_have_count(5)
    expect(page.get_by_test_id("backup-countdown")).to_be_visible()
    # No app, no older codes: the dialog speaks of neither.
    expect(page.get_by_role("dialog")).to_contain_text(
        "Each code works once, in place of your passkey, if you lose it."
    )
    expect(page.get_by_role("dialog")).not_to_contain_text("older codes")
    page.get_by_test_id("backup-close").click()
    expect(page.get_by_test_id("twofa-status")).to_have_text("Activated")
    row = page.get_by_test_id("passkey-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Work laptop")
    expect(row).to_contain_text("Never")
    assert_accessible(page, "the profile with a passkey")
    page.get_by_test_id("passkey-rename").click()
    expect(page.get_by_test_id("passkey-rename-name")).to_have_value("Work laptop")
    page.get_by_test_id("passkey-rename-name").fill("Home laptop")
    page.get_by_test_id("passkey-rename-save").click()
    expect(row).to_contain_text("Home laptop")
    expect(page.get_by_test_id("passkey-rename-name")).to_have_count(0)
    (credential,) = authenticator.credentials()
    assert credential["isResidentCredential"]

    # The password is now only the first step; the passkey completes the second.
    sign_out(page)
    sign_in(page, rxapp_user)
    expect(page).to_have_url(PASSCODE_URL)
    expect(page.get_by_text("Use your passkey, or enter one of your backup codes.")).to_be_visible()
    expect(page.get_by_text("Check your phone's time.")).to_have_count(0)  # no app to check
    assert_accessible(page, "the passcode page with a passkey")
    page.get_by_test_id("passcode-use-passkey").click()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)
    expect(page.get_by_test_id("passkey-row")).not_to_contain_text("Never")

    # Both factors at once: no email, no password.
    sign_out(page)
    passkeys_ready(page)
    page.get_by_test_id("login-passkey").click()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-email")).to_have_text(rxapp_user.email)


def test_a_passkey_sign_in_tells_what_an_admin_changed_meanwhile(
    page: Page,
    rxapp_user: Account,
    rxapp_server: RxappServer,
    authenticator: VirtualAuthenticator,
) -> None:
    sign_in_to_profile(page, rxapp_user)
    add_passkey(page)
    sign_out(page)
    with rxapp_server.db() as db:
        owner = accounts.find_user(db, rxapp_user.email)
        assert accounts.set_password(db, owner, "a new password, 3", now=utcnow(), via="t") is None
    passkeys_ready(page)
    page.get_by_test_id("login-passkey").click()
    expect(page).to_have_url(PROFILE_URL)
    expect(page.get_by_test_id("profile-notice")).to_contain_text(
        "An admin set a new password for your account on"
    )


def test_a_removed_passkey_is_refused(
    page: Page, rxapp_user: Account, authenticator: VirtualAuthenticator
) -> None:
    sign_in_to_profile(page, rxapp_user)
    add_passkey(page)
    page.get_by_test_id("passkey-remove").click()
    page.get_by_test_id("passkey-remove-confirm").click()
    expect(page.get_by_test_id("passkey-row")).to_have_count(0)
    # It was the only method: 2FA is off again.
    expect(page.get_by_test_id("twofa-status")).to_have_text("Not activated")
    assert len(authenticator.credentials()) == 1  # the authenticator still holds it

    sign_out(page)
    passkeys_ready(page)
    page.get_by_test_id("login-passkey").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("could not sign you in")
    expect(page).to_have_url(LOGIN_URL)


def test_another_accounts_credential_is_refused(
    page: Page,
    rxapp_server: RxappServer,
    rxapp_user: Account,
    authenticator: VirtualAuthenticator,
) -> None:
    # The authenticator holds the user's passkey; the victim has one of their own elsewhere.
    sign_in_to_profile(page, rxapp_user)
    add_passkey(page)
    sign_out(page)
    victim = rxapp_server.create_user()
    victim_id = give_passkey(rxapp_server, victim, "Victim's key", "dmljdGltcy1rZXk")

    # With the victim's password, an attacker's browser offers its own passkey instead.
    sign_in(page, victim)
    expect(page).to_have_url(PASSCODE_URL)
    page.evaluate(
        """() => {
            const get = navigator.credentials.get.bind(navigator.credentials);
            navigator.credentials.get = (options) => {
                options.publicKey.allowCredentials = [];
                return get(options);
            };
        }"""
    )
    page.get_by_test_id("passcode-use-passkey").click()
    expect(page.get_by_test_id("passcode-error")).to_contain_text("does not belong")
    expect(page).to_have_url(PASSCODE_URL)
    with rxapp_server.db() as db:
        refused = db.exec(
            select(AuditEvent).where(
                AuditEvent.user_id == victim_id, AuditEvent.event == "second_factor_failed"
            )
        ).all()
    assert [row.detail.split()[1] for row in refused] == ["refused=other-account"]


def test_a_replayed_assertion_is_refused(
    page: Page, rxapp_user: Account, authenticator: VirtualAuthenticator
) -> None:
    sign_in_to_profile(page, rxapp_user)
    add_passkey(page)
    sign_out(page)

    # Keep a copy of exactly what the browser sent when signing in...
    passkeys_ready(page)
    page.evaluate(
        """() => {
            const get = window.rxappPasskeys.get;
            window.rxappPasskeys.get = async (options) => {
                const answer = await get(options);
                sessionStorage.setItem("kept-assertion", answer);
                return answer;
            };
        }"""
    )
    page.get_by_test_id("login-passkey").click()
    expect(page).to_have_url(PROFILE_URL)
    sign_out(page)

    # ...and send it again instead of asking the authenticator.
    passkeys_ready(page)
    kept = page.evaluate("() => sessionStorage.getItem('kept-assertion')")
    assert kept and '"authenticatorData"' in kept
    page.evaluate(
        """() => {
            window.rxappPasskeys.get = async () => sessionStorage.getItem("kept-assertion");
        }"""
    )
    page.get_by_test_id("login-passkey").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("could not sign you in")
    expect(page).to_have_url(LOGIN_URL)


def test_removing_a_passkey_needs_a_fresh_proof_which_a_passkey_can_give(
    page: Page,
    rxapp_server: RxappServer,
    rxapp_user: Account,
    authenticator: VirtualAuthenticator,
) -> None:
    sign_in_to_profile(page, rxapp_user)
    add_passkey(page, "Old phone")
    # The same authenticator cannot hold a second passkey for the account: said plainly.
    page.get_by_test_id("add-passkey").click()
    page.get_by_test_id("passkey-name").fill("Old phone again")
    page.get_by_test_id("passkey-save").click()
    expect(page.get_by_test_id("passkey-error")).to_contain_text("already holds a passkey")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("passkey-name")).to_have_count(0)
    # A second passkey, on a device this browser does not have.
    user_id = give_passkey(rxapp_server, rxapp_user, "New laptop", "bmV3LWxhcHRvcA")
    with rxapp_server.db() as db:
        db.exec(
            update(AuthSession)
            .where(AuthSession.user_id == user_id)
            .values(fresh_proof_at=utcnow() - timedelta(minutes=6))
        )
        db.commit()

    page.get_by_test_id("passkey-row").filter(has_text="Old phone").get_by_test_id(
        "passkey-remove"
    ).click()
    # The sign-in is no longer fresh: a code, or one of the account's passkeys.
    expect(page.get_by_test_id("reauth-input")).to_be_visible()
    page.get_by_test_id("reauth-use-passkey").click()
    page.get_by_test_id("passkey-remove-confirm").click()
    expect(page.get_by_test_id("passkey-row")).to_have_count(1)
    expect(page.get_by_test_id("passkey-row")).to_contain_text("New laptop")
    expect(page.get_by_test_id("twofa-status")).to_have_text("Activated")


def test_with_2fa_a_sign_in_alone_never_adds_a_passkey(
    page: Page, rxapp_user: Account, authenticator: VirtualAuthenticator, forge: EventForger
) -> None:
    """Whoever signs in with one phished code gets no lasting way in: adding a passkey asks
    for a proof entered after the sign-in, from the button and from a forged save alike."""
    sign_in_to_profile(page, rxapp_user)
    twofa = enable_2fa(page)
    sign_out(page)
    sign_in_with_code(page, rxapp_user, twofa.code(steps_ahead=1))
    expect(page).to_have_url(PROFILE_URL)

    page.get_by_test_id("add-passkey").click()
    expect(page.get_by_test_id("reauth-input")).to_be_visible()
    expect(page.get_by_test_id("passkey-name")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("reauth-input")).to_have_count(0)
    forge.send(f"{PasskeysState.get_full_name()}.save", {"form": {"name": "Mine"}}, path="/profile")
    expect(page.get_by_test_id("reauth-input")).to_be_visible()  # asked again, nothing made
    assert authenticator.credentials() == []

    page.get_by_test_id("reauth-input").fill(twofa.backup_codes[0])
    page.get_by_test_id("reauth-submit").click()
    page.get_by_test_id("passkey-name").fill("Work laptop")
    page.get_by_test_id("passkey-save").click()
    expect(page.get_by_test_id("passkey-row")).to_have_count(1)
    assert len(authenticator.credentials()) == 1


def test_a_long_passkey_name_wraps_and_its_dates_stay_in_view(
    page: Page, rxapp_user: Account, rxapp_server: RxappServer
) -> None:
    sign_in_to_profile(page, rxapp_user)
    name = "Ключ 🔑 " + "x" * 56  # as long as a name may be, with no space to wrap at
    give_passkey(rxapp_server, rxapp_user, name, "a-long-named-credential")
    page.reload()
    expect(page.get_by_test_id("passkey-name-cell")).to_have_text(name)
    table = page.get_by_test_id("passkeys-table")
    expect(table).to_contain_text("Last used")
    # The table fits its card: nothing to scroll sideways to.
    overflow = table.evaluate(
        "t => { const s = t.closest('.table-scroll'); return s.scrollWidth - s.clientWidth; }"
    )
    assert overflow <= 0


def test_at_a_bare_ip_address_adding_a_passkey_says_why_it_cannot_work(
    page: Page, base_url: str, rxapp_user: Account, authenticator: VirtualAuthenticator
) -> None:
    """Browsers refuse WebAuthn at an IP address (it cannot be a relying party's id): the
    person reads what to do, not the browser's exception name."""
    at_ip = base_url.replace("//localhost:", "//127.0.0.1:")
    assert at_ip != base_url
    page.goto(at_ip + "/login")
    page.get_by_test_id("login-email").fill(rxapp_user.email)
    page.get_by_test_id("login-password").fill(rxapp_user.password)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(at_ip + "/profile")
    page.get_by_test_id("add-passkey").click()
    page.get_by_test_id("passkey-name").fill("This laptop")
    page.get_by_test_id("passkey-save").click()
    expect(page.get_by_test_id("passkey-error")).to_have_text(INSECURE_ADDRESS)
    assert authenticator.credentials() == []
