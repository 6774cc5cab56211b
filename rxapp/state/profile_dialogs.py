"""The profile's dialogs, one substate each: fresh proof, enable, disable, backup codes.

Secrets shown in a dialog (the enrolment key, new backup codes) never rest in the state:
the state holds a random reference; the secret sits encrypted in the database and, while
shown, in this process's memory (`secret_cache`). Uncached computed vars hand it to the
browser only over the connection that proved the session.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from datetime import timedelta
from functools import partial
from typing import Any

import reflex as rx
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from rxapp.components.layout import keep_focus_script
from rxapp.services import reauth, reveals, throttle
from rxapp.services.clock import utcnow
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.passkeys import flows as passkey_flows
from rxapp.services.mfa.totp import flows as totp_flows
from rxapp.services.mfa.totp.algorithm import grouped as totp_grouped
from rxapp.services.sessions import SignedIn
from rxapp.settings import get_settings
from rxapp.state import passkeys as browser
from rxapp.state import secret_cache, task_leases
from rxapp.state.auth import SignedOut
from rxapp.state.offloop import run_db
from rxapp.state.profile import AccountView, ProfileState, read_account

ENROLL_SHOWN_FOR = timedelta(minutes=15)
# On a phone the error appears below the fold: bring it and the Check button into view.
SHOW_ENROLL_ERROR = rx.call_script(
    "document.querySelector('[data-testid=enroll-check]')?.scrollIntoView({block: 'center'})"
)
NO_KEY: dict[str, str] = {"plain": "", "grouped": "", "qr": "", "uri": ""}


# A button from before a change made elsewhere (another tab, another device): the page
# shows the account as it is now, and says why nothing else happened.
ALREADY_ON = "An authenticator app is already set up (in another tab or on another device)."
NO_CODES_WITHOUT_2FA = (
    "Two-factor authentication was turned off (in another tab or on another device), so no "
    "backup codes were made."
)
ALREADY_OFF = "The authenticator app was already removed (in another tab or on another device)."
TURNED_OFF = (
    "Two-factor authentication is off: signing in asks only for your password, and your "
    "backup codes no longer work. Every other session of your account was signed out."
)
APP_REMOVED = (
    "The authenticator app was removed: your passkeys still protect your account. Every "
    "other session of your account was signed out."
)
# Where focus goes when the button pressed went away with the change (the 2FA card's heading).
TWOFA_HEADING_ID = "twofa-heading"


class ReauthState(ProfileState):
    """A fresh proof before a sensitive action: a code when 2FA is on, else the password."""

    open: bool = False
    # What the proof is for: enable, backup, passkey_add, passkey_remove, password.
    purpose: str = ""
    # What it asks for: "code" (2FA on) or "password".
    kind: str = ""
    # A code, or one of the account's passkeys.
    passkey_offered: bool = False
    passkey_waiting: bool = False
    error: str = ""
    # The wait `error` tells of, counted down on screen (0: none).
    wait_seconds: int = 0
    # Submissions of the dialog's form answered: its submit button is busy until this changes.
    answers: int = 0

    def _ask(self, purpose: str, view: AccountView) -> None:
        self.purpose = purpose
        self.kind = "code" if view.twofa_active else "password"
        self.passkey_offered = view.twofa_active and bool(view.passkeys)
        self.passkey_waiting = False
        self.error = ""
        self.wait_seconds = 0
        self.open = True

    def _close(self) -> None:
        self.open = False
        self.error = ""
        self.wait_seconds = 0
        self.purpose = ""
        self.kind = ""
        self.passkey_offered = False
        self.passkey_waiting = False

    @rx.event
    async def use_passkey(self) -> Any:
        """Prove it with one of the account's passkeys instead of a code."""
        rp = browser.relying_party(self.router.headers.origin)
        if rp is None or not self.open:
            self.error = browser.UNAVAILABLE if rp is None else ""
            return None

        def begin(db: Session, signed_in: SignedIn) -> str:
            bound = browser.session_binding(signed_in)
            return passkey_flows.begin_reauth(db, signed_in.user.id, rp, bound, now=utcnow())

        options = await self._as_user(begin)
        if isinstance(options, SignedOut):
            self._close()
            return self._to_login()
        if not options:
            self.passkey_offered = False
            return None
        self.error = ""
        self.passkey_waiting = True
        return browser.in_browser("get", options, ReauthState.finish_passkey)

    @rx.event
    async def finish_passkey(self, result: str) -> Any:
        """The browser's answer: a fresh proof, then what it was asked for."""
        self.passkey_waiting = False
        rp = browser.relying_party(self.router.headers.origin)
        purpose = self.purpose
        if rp is None or not self.open:
            return None
        device = self._proven_device()

        def prove(db: Session, signed_in: SignedIn) -> tuple[str | None, AccountView]:
            binding = browser.session_binding(signed_in)
            problem = passkey_flows.prove(
                db, signed_in, rp, binding, result, now=utcnow(), device=device
            )
            return problem, read_account(db, signed_in)

        outcome = await self._as_user(prove)
        if isinstance(outcome, SignedOut):
            self._close()
            return self._to_login()
        problem, view = outcome
        self._apply(view)
        if problem:
            self.error = problem
            return None
        self._close()
        return await self._carry_on(purpose)

    @rx.event
    async def submit(self, form: dict) -> Any:
        """Check the proof, then carry on with what it was asked for."""
        self.answers += 1
        self.wait_seconds = 0
        value = form.get("proof")
        purpose, kind = self.purpose, self.kind
        device = self._proven_device()

        def prove(
            db: Session, signed_in: SignedIn
        ) -> tuple[bool, throttle.Refusal | None, AccountView]:
            fits = kind == ("code" if reauth.asks_for_code(signed_in) else "password")
            problem = (
                reauth.prove(db, signed_in, value, now=utcnow(), device=device) if fits else None
            )
            return fits, problem, read_account(db, signed_in)

        result = await self._as_user(prove, heavy=True)
        if isinstance(result, SignedOut):
            self._close()
            return self._to_login()
        fits, problem, view = result
        self._apply(view)
        if not fits:
            self._close()  # the account changed meanwhile: start over
            return None
        if problem:
            self.error, self.wait_seconds = problem.message, problem.wait_seconds
            return None
        self._close()
        return await self._carry_on(purpose)

    async def _carry_on(self, purpose: str) -> Any:
        """What the fresh proof was asked for."""
        from rxapp.state.profile_passkeys import PasskeysState
        from rxapp.state.profile_password import PasswordState

        if purpose == "enable":
            return await (await self.get_state(EnrollState))._begin()
        if purpose == "backup":
            return await (await self.get_state(BackupCodesState))._new_batch(first=False)
        if purpose == "password":
            (await self.get_state(PasswordState))._open()
            return None
        passkeys = await self.get_state(PasskeysState)
        if purpose == "passkey_add":
            passkeys._open_add()
        elif purpose == "passkey_remove":
            passkeys._open_remove()
        return None

    @rx.event
    def cancel(self, _open: object = False) -> None:
        """Close the proof dialog without doing anything."""
        self._close()


class EnrollState(ProfileState):
    """The enable dialog: a new key as QR code and text, then a first code to check."""

    open: bool = False
    error: str = ""
    # Submissions of the dialog's form answered: its submit button is busy until this changes.
    answers: int = 0
    # A key shown in this tab was closed unconfirmed: the next one is new, and an app that
    # scanned the earlier one holds an entry whose codes never work.
    earlier_key: bool = False
    _ref: str = ""

    @rx.var(cache=False)
    def key(self) -> dict[str, str]:
        """The key being set up (plain, grouped, QR, otpauth URI), only for the proven
        connection."""
        if not self.open or not self._proven_session():
            return dict(NO_KEY)
        return secret_cache.get(self._ref) or dict(NO_KEY)

    def _show(self, enrollment: totp_flows.Enrollment) -> None:
        self._ref = secrets.token_urlsafe(18)
        secret_cache.put(
            self._ref,
            {
                "plain": enrollment.secret,
                "grouped": totp_grouped(enrollment.secret),
                "qr": enrollment.qr_data_uri,
                "uri": enrollment.uri,
            },
            until=utcnow() + ENROLL_SHOWN_FOR,
        )
        self.error = ""
        self.open = True

    def _close(self) -> None:
        secret_cache.drop(self._ref)
        self._ref = ""
        self.open = False
        self.error = ""

    async def _begin(self) -> Any:
        def begin(db: Session, signed_in: SignedIn) -> totp_flows.Enrollment | None:
            return totp_flows.begin_enrollment(db, signed_in.user, now=utcnow())

        enrollment = await self._as_user(begin)
        if isinstance(enrollment, SignedOut):
            return self._to_login()
        if enrollment is not None:
            self._show(enrollment)
        return None

    @rx.event
    async def start(self) -> Any:
        """Open the enable dialog with a new key (after a password check if needed)."""

        def check(db: Session, signed_in: SignedIn) -> tuple[str, AccountView]:
            if totp_flows.is_enabled(signed_in.user):
                return "on", read_account(db, signed_in)
            fresh = reauth.may_change_methods(signed_in, now=utcnow())
            return ("fresh" if fresh else "prove"), read_account(db, signed_in)

        result = await self._as_user(check)
        if isinstance(result, SignedOut):
            return self._to_login()
        verdict, view = result
        self._apply(view)
        if verdict == "prove":
            (await self.get_state(ReauthState))._ask("enable", view)
            return None
        if verdict == "fresh":
            return await self._begin()
        return [rx.toast.info(ALREADY_ON), keep_focus_script(TWOFA_HEADING_ID)]

    @rx.event
    async def submit(self, form: dict) -> Any:
        """Check the first code from the app; on success 2FA is on and backup codes appear."""
        self.answers += 1
        code = form.get("code")
        if not self.open:
            return None

        shown = (secret_cache.get(self._ref) or {}).get("plain")

        def confirm(db: Session, signed_in: SignedIn) -> tuple[mfa.CodeCheck, AccountView]:
            result = totp_flows.confirm_enrollment(
                db,
                signed_in.user.id,
                code,
                now=utcnow(),
                keep_session_id=signed_in.session.id,
                shown_secret=shown,
            )
            return result, read_account(db, signed_in)

        confirmed = await self._as_user(confirm)
        if isinstance(confirmed, SignedOut):
            self._close()
            return self._to_login()
        result, view = confirmed
        if not result.ok:
            elsewhere = result.message in totp_flows.CHANGED_ELSEWHERE
            self.error = (
                result.message if elsewhere else self._drift_message(code) or result.message
            )
            return SHOW_ENROLL_ERROR
        self._apply(view)
        self._close()
        self.earlier_key = False
        if not result.turned_on:
            return None  # 2FA was on already (passkeys): its backup codes stay as they are
        return await (await self.get_state(BackupCodesState))._new_batch(first=True)

    def _drift_message(self, code: object) -> str | None:
        """A wrong code that is right for a nearby time: the phone's clock is off. Safe to
        say here: the person in this dialog holds the key."""
        secret = (secret_cache.get(self._ref) or {}).get("plain")
        return totp_flows.clock_drift_message(secret, code, now=utcnow()) if secret else None

    @rx.event
    async def close(self, _open: object = False) -> None:
        """Close the enable dialog; the unconfirmed key is forgotten for good."""
        was_open = self.open
        self._close()
        if not was_open:
            return
        self.earlier_key = True

        def cancel(db: Session, signed_in: SignedIn) -> None:
            if not totp_flows.is_enabled(signed_in.user):
                totp_flows.cancel_enrollment(db, signed_in.user.id)

        await self._as_user(cancel)

    async def _restore(self, user_id: int) -> None:
        """After a reconnect: put the key being set up back in this process's memory."""
        if not self.open or secret_cache.get(self._ref):
            return
        enrollment = await run_db(lambda db: totp_flows.pending_enrollment(db, user_id))
        if enrollment is None:
            self._close()
            return
        ref = self._ref
        self._show(enrollment)
        secret_cache.drop(ref)


class DisableState(ProfileState):
    """Turning 2FA off, confirmed with a current code."""

    open: bool = False
    error: str = ""
    # The wait `error` tells of, counted down on screen (0: none).
    wait_seconds: int = 0
    # Submissions of the dialog's form answered: its submit button is busy until this changes.
    answers: int = 0

    @rx.event
    async def start(self) -> Any:
        """Ask for a current code before turning 2FA off."""
        result = await self._as_user(read_account)
        if isinstance(result, SignedOut):
            return self._to_login()
        self._apply(result)
        self.error, self.wait_seconds = "", 0
        self.open = result.totp_active
        if self.open:
            return None
        return [rx.toast.info(ALREADY_OFF), keep_focus_script(TWOFA_HEADING_ID)]

    @rx.event
    async def submit(self, form: dict) -> Any:
        """Turn 2FA off with a current TOTP or backup code; say what changed."""
        self.answers += 1
        self.wait_seconds = 0
        code = form.get("code")
        device = self._proven_device()

        def disable(db: Session, signed_in: SignedIn) -> tuple[mfa.CodeCheck | None, AccountView]:
            if not totp_flows.is_enabled(signed_in.user):
                return None, read_account(db, signed_in)
            result = mfa.disable(
                db,
                signed_in.user.id,
                code,
                now=utcnow(),
                keep_session_id=signed_in.session.id,
                device=device,
            )
            return result, read_account(db, signed_in)

        result = await self._as_user(disable, heavy=True)
        if isinstance(result, SignedOut):
            self.open = False
            return self._to_login()
        checked, view = result
        self._apply(view)
        if checked is not None and not checked.ok:
            self.error, self.wait_seconds = checked.message, checked.told_wait
            return None
        self.open = False
        self.error = ""
        self.notice = ""
        if checked is None:
            return [rx.toast.info(ALREADY_OFF), keep_focus_script(TWOFA_HEADING_ID)]
        told = APP_REMOVED if view.twofa_active else TURNED_OFF
        return [rx.toast.success(told), keep_focus_script(TWOFA_HEADING_ID)]

    @rx.event
    def close(self, _open: object = False) -> None:
        """Keep 2FA on."""
        self.open = False
        self.error, self.wait_seconds = "", 0


class BackupCodesState(ProfileState):
    """New backup codes: shown once, for a short while, with a live countdown."""

    open: bool = False
    first_batch: bool = False
    countdown: int = 0
    extensions_left: int = 0
    # The codes on screen were replaced (or deleted) from another tab: they no longer work.
    replaced: bool = False
    _ref: str = ""
    # When the reveal ends (UTC epoch seconds); the server decides, never the browser.
    _deadline: float = 0.0
    # A running countdown renews this lease every tick; one lost with a crashed process
    # lapses, so the next reveal (or a reconnect) can start its own.
    _lease: float = 0.0
    _countdown_owner: str = ""  # the countdown (task_leases) that holds the lease

    @rx.var(cache=False)
    def codes(self) -> list[str]:
        """The new codes while their reveal lasts, only for the proven connection."""
        if not self._ref or not self._proven_session() or utcnow().timestamp() >= self._deadline:
            return []
        return list(secret_cache.get(self._ref) or [])

    @rx.var
    def revealed(self) -> bool:
        """Whether this dialog showed codes that are now hidden for good."""
        return self.open and self.countdown <= 0

    @rx.var
    def countdown_announcement(self) -> str:
        """What screen readers hear about the countdown: a few milestones, not every second."""
        if self.replaced:
            return "Newer backup codes were made: the ones on screen no longer work."
        if self.countdown <= 0:
            return "The backup codes are hidden now." if self.open else ""
        milestone = min(t for t in (5, 10, 20, 30, 10**6) if self.countdown <= t)
        if milestone > 30:
            return f"{self.countdown} seconds to save your backup codes."
        return f"About {milestone} seconds left to save your backup codes."

    def _hide(self) -> None:
        secret_cache.drop(self._ref)
        self._ref = ""
        self._deadline = 0.0
        self.countdown = 0

    async def _new_batch(self, *, first: bool) -> Any:
        seconds = get_settings().backup_reveal_seconds

        def make(db: Session, signed_in: SignedIn) -> tuple[reveals.Reveal | None, AccountView]:
            now = utcnow()
            codes = mfa.new_backup_codes(db, signed_in.user.id, now=now)
            if not codes:
                return None, read_account(db, signed_in)
            shown = [backup_codes.formatted(code) for code in codes]
            reveal = reveals.create(
                db,
                user_id=signed_in.user.id,
                session_id=signed_in.session.id,
                values=shown,
                now=now,
                seconds=seconds,
            )
            return reveal, read_account(db, signed_in)

        result = await self._as_user(make, heavy=True)
        if isinstance(result, SignedOut):
            return self._to_login()
        reveal, view = result
        self._apply(view)
        if reveal is None:
            return [rx.toast.info(NO_CODES_WITHOUT_2FA), keep_focus_script(TWOFA_HEADING_ID)]
        self.notice = ""
        self.first_batch = first
        self.extensions_left = reveals.MAX_EXTENSIONS
        self._show(reveal)
        return BackupCodesState.run_countdown

    def _show(self, reveal: reveals.Reveal) -> None:
        secret_cache.drop(self._ref)
        self._ref = reveal.ref
        secret_cache.put(reveal.ref, reveal.values, until=reveal.expires_at)
        self._deadline = reveal.expires_at.timestamp()
        self.countdown = max(0, math.ceil(self._deadline - utcnow().timestamp()))
        self.replaced = False
        self.open = True

    @rx.event
    async def start(self) -> Any:
        """New backup codes, after a current code entered in the proof dialog (which says
        what the saved codes become): a sign-in alone (say with one phished code) never
        yields lasting backup codes."""
        view = await self._as_user(read_account)
        if isinstance(view, SignedOut):
            return self._to_login()
        self._apply(view)
        if view.twofa_active:
            (await self.get_state(ReauthState))._ask("backup", view)
        return None

    @rx.event
    async def extend(self) -> None:
        """More time to save the codes (WCAG 2.2.1): the server moves the deadline, in the
        database too, so a reconnect keeps it."""
        ref = self._ref
        if not ref or self.extensions_left <= 0 or utcnow().timestamp() >= self._deadline:
            return
        seconds = get_settings().backup_reveal_seconds

        def extend(db: Session, signed_in: SignedIn) -> reveals.Reveal | None:
            return reveals.extend(
                db, ref, session_id=signed_in.session.id, now=utcnow(), seconds=seconds
            )

        reveal = await self._as_user(extend)
        if isinstance(reveal, SignedOut) or reveal is None:
            return
        self.extensions_left -= 1
        self._show(reveal)

    @rx.event
    async def close(self, _open: object = False) -> None:
        """Hide the codes for good and close the dialog."""
        ref = self._ref
        self._hide()
        self.open = False
        self.replaced = False
        if ref:
            await run_db(lambda db: reveals.discard(db, ref))

    async def _restore(self, session_id: int) -> Any:
        """After a reconnect: the codes back into memory, and the countdown running again."""
        if not self._ref:
            return None
        ref = self._ref
        reveal = await run_db(lambda db: reveals.read(db, ref, session_id=session_id, now=utcnow()))
        if reveal is None:
            self._hide()
            return None
        self._show(reveal)
        return BackupCodesState.run_countdown

    @rx.event(background=True)
    async def run_countdown(self) -> None:
        """Count the reveal down every second; the server decides when the time is up."""
        async with self:
            now = utcnow().timestamp()
            me = task_leases.claim(self._countdown_owner, self._lease, now=now)
            if me is None:
                return  # one countdown per tab at a time
            self._countdown_owner = me
            self._lease = now + 3
        ref = ""
        try:
            while True:
                # A newer batch made in another tab (or 2FA turned off) ended this reveal in
                # the database: the codes on screen no longer work.
                live = not ref or await run_db(partial(_reveal_is_live, ref=ref))
                async with self:
                    now = utcnow().timestamp()
                    left = math.ceil(self._deadline - now)
                    if not self._ref or left <= 0:
                        self._hide()
                        return
                    if not live and self._ref == ref:
                        self._hide()
                        self.replaced = True
                        return
                    ref = self._ref
                    # A tab gone from this process: its reconnect (here or on another
                    # instance) restores the reveal and starts a countdown of its own, which
                    # takes over this lease.
                    if not task_leases.keeps(self._countdown_owner, me, self._tab()):
                        if self._countdown_owner == me:
                            self._lease = 0.0  # under the lock a reconnect's restore takes
                        return
                    self.countdown = left
                    self._lease = now + 3
                    wait = self._deadline - (left - 1) - now
                await asyncio.sleep(max(0.05, wait))
        finally:
            task_leases.stop(me)
            async with self:
                if self._countdown_owner == me:
                    self._lease = 0.0
                if utcnow().timestamp() >= self._deadline:
                    self._hide()


def _reveal_is_live(db: Session, *, ref: str) -> bool:
    try:
        return reveals.is_live(db, ref, now=utcnow())
    except SQLAlchemyError:  # a moment's database trouble: the countdown goes on regardless
        return True


async def restore_dialogs(
    profile: ProfileState, view: AccountView, *, keep_open: bool
) -> list[Any] | None:
    """On a page load: after a navigation close every dialog; after a reconnect keep them,
    with their secrets read back into this process."""
    from rxapp.state.profile_passkeys import PasskeysState

    reauth_state = await profile.get_state(ReauthState)
    enroll = await profile.get_state(EnrollState)
    disable = await profile.get_state(DisableState)
    backup = await profile.get_state(BackupCodesState)
    if not keep_open:
        (await profile.get_state(PasskeysState))._close_all()
        reauth_state._close()
        enroll._close()
        disable.open = False
        disable.error = ""
        backup._hide()
        backup.open = False
        return None
    if enroll.open and not view.may_change_methods:
        # A setup kept open past the proof's freshness: opening it again asks for the proof.
        enroll._close()
    await enroll._restore(view.user_id)
    countdown = await backup._restore(view.session_id)
    return [countdown] if countdown is not None else None


async def a_dialog_is_open(profile: ProfileState) -> bool:
    """Whether the profile shows one of its dialogs (a reload or reconnect keeps them)."""
    from rxapp.state.profile_passkeys import PasskeysState
    from rxapp.state.profile_password import PasswordState

    for dialog in (EnrollState, ReauthState, DisableState, BackupCodesState, PasswordState):
        if (await profile.get_state(dialog)).open:
            return True
    passkeys = await profile.get_state(PasskeysState)
    return passkeys.add_open or passkeys.rename_open or passkeys.remove_open


async def open_setup(profile: ProfileState) -> Any:
    """Open the 2FA setup at once (the policy requires it and the sign-in is fresh)."""
    return await (await profile.get_state(EnrollState))._begin()
