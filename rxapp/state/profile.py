"""ProfileState: the account page, turning 2FA on and off, and backup codes.

Every handler checks the session in the database again: the page's on_load protects nothing.
Secrets reach the browser only while the enable dialog is open, and backup codes only during
their reveal; both are removed from the state the moment that ends.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Literal

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.services import audit, backup_codes, reauth, sessions, twofactor
from rxapp.services.clock import utcnow
from rxapp.services.sessions import SignedIn
from rxapp.services.totp import grouped as totp_grouped
from rxapp.settings import get_settings
from rxapp.state.auth import AuthState, db_session

ReauthPurpose = Literal["", "enable", "backup"]


class ProfileState(AuthState):
    """What the profile page shows and does for the signed-in user."""

    member_since: str = ""
    last_sign_in: str = ""
    twofa_active: bool = False
    twofa_since: str = ""
    backup_remaining: int = 0

    # Fresh proof before a sensitive action.
    reauth_open: bool = False
    reauth_purpose: str = ""
    reauth_error: str = ""

    # The enable dialog: the only time the secret is in client state.
    enroll_open: bool = False
    enroll_qr: str = ""
    enroll_secret: str = ""
    enroll_error: str = ""

    disable_open: bool = False
    disable_error: str = ""

    # The backup-code reveal.
    backup_open: bool = False
    # The codes live in a backend var; `backup_codes` shows them only before the deadline.
    _revealed_codes: list[str] = []
    backup_countdown: int = 0
    backup_first_batch: bool = False
    _reveal_deadline: float = 0.0
    # A running countdown renews this lease every tick; a countdown lost with a crashed
    # process lets it lapse, so the next reveal can start its own.
    _countdown_lease: float = 0.0

    busy: bool = False

    @rx.var
    def enroll_secret_grouped(self) -> str:
        """The key in groups of four, as people type it."""
        return totp_grouped(self.enroll_secret)

    @rx.var
    def backup_low(self) -> bool:
        """Whether to warn that few unused backup codes are left."""
        return self.twofa_active and self.backup_remaining <= backup_codes.LOW

    @rx.var
    def backup_countdown_announcement(self) -> str:
        """What screen readers hear about the countdown: a few milestones, not every second."""
        if self.backup_countdown <= 0:
            return "The backup codes are hidden now." if self.backup_open else ""
        milestone = min(t for t in (5, 10, 20, 30, 10**6) if self.backup_countdown <= t)
        if milestone > 30:
            return f"{self.backup_countdown} seconds to save your backup codes."
        return f"About {milestone} seconds left to save your backup codes."

    @rx.var(cache=False)
    def backup_codes(self) -> list[str]:
        """The new codes while their reveal lasts, and never after, whatever else happened
        (computed each time the state is sent, from the server's clock)."""
        return list(self._revealed_codes) if time.time() < self._reveal_deadline else []

    @rx.var(cache=False)
    def backup_codes_text(self) -> str:
        """The codes as a text file: for copying or downloading during the reveal."""
        if not self.backup_codes:
            return ""
        return "rxapp backup codes (each works once)\n\n" + "\n".join(self.backup_codes) + "\n"

    # --- helpers (not callable from the browser) -----------------------------------------

    def _require(self, db: Session) -> SignedIn | None:
        signed_in = self._signed_in(db)
        if signed_in is None:
            self._forget_session()
            self._close_everything()
        return signed_in

    def _to_login(self) -> rx.event.EventSpec:
        return rx.redirect(routes.LOGIN, replace=True)

    def _refresh(self, db: Session, signed_in: SignedIn) -> None:
        db.refresh(signed_in.user)
        user = signed_in.user
        self.member_since = user.created_at.strftime("%d %b %Y")
        self.last_sign_in = (
            user.last_sign_in_at.strftime("%d %b %Y, %H:%M UTC") if user.last_sign_in_at else ""
        )
        self.twofa_active = twofactor.is_enabled(user)
        self.twofa_since = user.totp_enabled_at.strftime("%d %b %Y") if user.totp_enabled_at else ""
        self.backup_remaining = backup_codes.remaining(db, user.id) if self.twofa_active else 0

    def _clear_enrollment(self) -> None:
        self.enroll_open = False
        self.enroll_qr = ""
        self.enroll_secret = ""
        self.enroll_error = ""

    def _hide_backup_codes(self) -> None:
        self._revealed_codes = []
        self.backup_countdown = 0
        self._reveal_deadline = 0.0

    def _close_everything(self) -> None:
        self._clear_enrollment()
        self._hide_backup_codes()
        self.backup_open = False
        self.reauth_open = False
        self.reauth_error = ""
        self.disable_open = False
        self.disable_error = ""

    def _open_reauth(self, purpose: ReauthPurpose) -> None:
        self.reauth_purpose = purpose
        self.reauth_error = ""
        self.reauth_open = True

    def _start_enrollment(self, db: Session, signed_in: SignedIn) -> None:
        enrollment = twofactor.begin_enrollment(db, signed_in.user, now=utcnow())
        if enrollment is None:
            self._refresh(db, signed_in)
            return
        self.enroll_secret = enrollment.secret
        self.enroll_qr = enrollment.qr_data_uri
        self.enroll_error = ""
        self.enroll_open = True

    def _reveal(self, codes: list[str], *, first_batch: bool) -> rx.event.EventSpec:
        self._revealed_codes = [backup_codes.formatted(code) for code in codes]
        self.backup_first_batch = first_batch
        seconds = get_settings().backup_reveal_seconds
        self._reveal_deadline = time.time() + seconds
        self.backup_countdown = seconds
        self.backup_open = True
        return ProfileState.run_backup_countdown

    def _new_batch(self, db: Session, signed_in: SignedIn, *, first: bool) -> rx.event.EventSpec:
        now = utcnow()
        codes = backup_codes.replace_batch(db, signed_in.user.id, now=now)
        audit.record(db, audit.Event.BACKUP_CODES_GENERATED, now=now, user_id=signed_in.user.id)
        db.commit()
        self._refresh(db, signed_in)
        return self._reveal(codes, first_batch=first)

    # --- page ------------------------------------------------------------------------------

    @rx.event
    def open_profile(self) -> rx.event.EventSpec | None:
        """on_load: load the account, or go to the login page."""
        with db_session() as db:
            signed_in = self._require(db)
            if signed_in is None:
                return self._to_login()
            self._close_everything()
            self._refresh(db, signed_in)
        return None

    # --- fresh proof ----------------------------------------------------------------------

    @rx.event
    def submit_reauth(self, form: dict | None = None) -> rx.event.EventSpec | None:
        """Check the password (to enable) or a code (for backup codes), then carry on."""
        value = form.get("proof") if isinstance(form, dict) else None
        with db_session() as db:
            signed_in = self._require(db)
            if signed_in is None:
                return self._to_login()
            expected = "backup" if reauth.asks_for_code(signed_in) else "enable"
            if self.reauth_purpose != expected:
                self.reauth_open = False  # the account changed meanwhile: start over
                self._refresh(db, signed_in)
                return None
            if problem := reauth.prove(db, signed_in, value, now=utcnow()):
                self.reauth_error = problem
                return rx.set_value("reauth-input", "")
            self.reauth_open = False
            self._refresh(db, signed_in)
            if expected == "enable":
                self._start_enrollment(db, signed_in)
                return None
            return self._new_batch(db, signed_in, first=False)

    @rx.event
    def cancel_reauth(self, _open: object = False) -> None:
        """Close the proof dialog without doing anything."""
        self.reauth_open = False
        self.reauth_error = ""
        self.reauth_purpose = ""

    # --- enable ---------------------------------------------------------------------------

    @rx.event
    def start_enable(self) -> rx.event.EventSpec | None:
        """Open the enable dialog with a new secret (after a password check if needed)."""
        with db_session() as db:
            signed_in = self._require(db)
            if signed_in is None:
                return self._to_login()
            if twofactor.is_enabled(signed_in.user):
                self._refresh(db, signed_in)
                return None
            if not sessions.has_fresh_proof(signed_in, now=utcnow()):
                self._open_reauth("enable")
                return None
            self._start_enrollment(db, signed_in)
        return None

    @rx.event
    def submit_enroll(self, form: dict | None = None) -> rx.event.EventSpec | None:
        """Check the first code from the app; on success 2FA is on and backup codes appear."""
        code = form.get("code") if isinstance(form, dict) else None
        with db_session() as db:
            signed_in = self._require(db)
            if signed_in is None:
                return self._to_login()
            if not self.enroll_open:
                return None
            now = utcnow()
            result = twofactor.confirm_enrollment(db, signed_in.user.id, code, now=now)
            if not result.ok:
                self.enroll_error = result.message
                return rx.set_value("enroll-code", "")
            sessions.mark_fresh_proof(db, signed_in.session.id, now=now)
            # Sessions opened with the password alone must not outlive the change.
            sessions.revoke_all_sessions(
                db, signed_in.user.id, now=now, keep_session_id=signed_in.session.id
            )
            db.commit()
            self._clear_enrollment()
            return self._new_batch(db, signed_in, first=True)

    @rx.event
    def close_enroll(self, _open: object = False) -> None:
        """Close the enable dialog; the unconfirmed secret is forgotten for good."""
        was_open = self.enroll_open
        self._clear_enrollment()
        if not was_open:
            return
        with db_session() as db:
            signed_in = self._require(db)
            if signed_in is not None and not twofactor.is_enabled(signed_in.user):
                twofactor.cancel_enrollment(db, signed_in.user.id)

    # --- disable --------------------------------------------------------------------------

    @rx.event
    def start_disable(self) -> rx.event.EventSpec | None:
        """Ask for a current code before turning 2FA off."""
        with db_session() as db:
            if self._require(db) is None:
                return self._to_login()
        self.disable_error = ""
        self.disable_open = True
        return None

    @rx.event
    def submit_disable(self, form: dict | None = None) -> rx.event.EventSpec | None:
        """Turn 2FA off with a current TOTP or backup code."""
        code = form.get("code") if isinstance(form, dict) else None
        with db_session() as db:
            signed_in = self._require(db)
            if signed_in is None:
                return self._to_login()
            if not twofactor.is_enabled(signed_in.user):
                self.disable_open = False
                self._refresh(db, signed_in)
                return None
            now = utcnow()
            result = twofactor.disable(db, signed_in.user.id, code, now=now)
            if not result.ok:
                self.disable_error = result.message
                return rx.set_value("disable-code", "")
            sessions.revoke_all_sessions(
                db, signed_in.user.id, now=now, keep_session_id=signed_in.session.id
            )
            db.commit()
            self.disable_open = False
            self.disable_error = ""
            self._refresh(db, signed_in)
        return None

    @rx.event
    def close_disable(self, _open: object = False) -> None:
        """Keep 2FA on."""
        self.disable_open = False
        self.disable_error = ""

    # --- backup codes ---------------------------------------------------------------------

    @rx.event
    def start_backup_codes(self) -> rx.event.EventSpec | None:
        """New backup codes, after a fresh code proof unless one was given in the last 5 min."""
        with db_session() as db:
            signed_in = self._require(db)
            if signed_in is None:
                return self._to_login()
            if not twofactor.is_enabled(signed_in.user):
                self._refresh(db, signed_in)
                return None
            if not sessions.has_fresh_proof(signed_in, now=utcnow()):
                self._open_reauth("backup")
                return None
            return self._new_batch(db, signed_in, first=False)

    @rx.event
    def close_backup_codes(self, _open: object = False) -> None:
        """Hide the codes for good and close the dialog."""
        self._hide_backup_codes()
        self.backup_open = False

    @rx.event(background=True)
    async def run_backup_countdown(self) -> None:
        """Count the reveal down every second; the server decides when the time is up."""
        async with self:
            if self._countdown_lease > time.time():
                return  # one countdown per tab at a time
            self._countdown_lease = time.time() + 3
        try:
            while True:
                async with self:
                    left = math.ceil(self._reveal_deadline - time.time())
                    if not self._revealed_codes or left <= 0:
                        self._hide_backup_codes()
                        return
                    self.backup_countdown = left
                    self._countdown_lease = time.time() + 3
                    wait = self._reveal_deadline - (left - 1) - time.time()
                await asyncio.sleep(max(0.05, wait))
        finally:
            async with self:
                self._countdown_lease = 0.0
                if time.time() >= self._reveal_deadline:
                    self._hide_backup_codes()
