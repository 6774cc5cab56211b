"""PasscodeState: the second step of signing in, with a TOTP or backup code."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.models import PendingLogin, User
from rxapp.services import audit, backup_codes, sessions, twofactor
from rxapp.services.clock import utcnow
from rxapp.services.emails import masked_email
from rxapp.state import browser_tokens
from rxapp.state.auth import AuthState, SignedOut


@dataclass(frozen=True)
class _Outcome:
    """What the passcode step decided (computed in a worker thread)."""

    check: twofactor.CodeCheck
    user: User | None = None
    session_token: str = ""


class PasscodeState(AuthState):
    """Only a live pending login proved on this connection may use this page."""

    error: str = ""
    # Which account is being verified, masked (`a…@example.com`); "" until the server
    # has confirmed the pending sign-in.
    account_hint: str = ""
    # The sign-in ended after too many wrong codes: the form gives way to a way back.
    voided: bool = False

    def _back_to_login(self) -> list[rx.event.EventSpec]:
        self._pending_digest = ""
        return [browser_tokens.forget(session=False), rx.redirect(routes.LOGIN, replace=True)]

    @rx.event
    async def open_passcode(self) -> list[rx.event.EventSpec] | None:
        """on_load: without a pending login, back to the password step."""
        self.error = ""
        self.voided = False

        def account_of(db: Session, pending: PendingLogin) -> str:
            user = db.get(User, pending.user_id)
            return masked_email(user.email) if user else ""

        found = await self._as_pending(account_of)
        if isinstance(found, SignedOut):
            self.account_hint = ""
            return self._back_to_login()
        self.account_hint = found
        self.session_checked = True
        return None

    @rx.event
    async def submit(self, form: dict) -> list[rx.event.EventSpec]:
        """Check the code; start the full session, or explain what went wrong."""
        code = form.get("code")
        outcome = await self._as_pending(
            lambda db, pending: self._check(db, pending, code), heavy=True
        )
        if isinstance(outcome, SignedOut):
            self.error = ""
            return self._back_to_login()
        result = outcome.check
        if not result.ok:
            self.error = result.message
            if result.login_voided:
                self._pending_digest = ""
                self.voided = True
                return [browser_tokens.forget(session=False)]
            return [rx.set_value("passcode-input", "")]
        self.error = ""
        redirect = self._enter(outcome.session_token, outcome.user)
        if result.used_backup_code and result.backup_codes_left is not None:
            self.notice = _backup_notice(result.backup_codes_left)
        return redirect

    def _check(self, db: Session, pending: PendingLogin, code: object) -> _Outcome:
        """Check the code and, when it holds, start the session (in a worker thread)."""
        result = twofactor.verify_login_code(db, pending, code, now=utcnow())
        if not result.ok:
            return _Outcome(check=result)
        token = self._begin_session(db, pending.user_id)
        return _Outcome(check=result, user=db.get(User, pending.user_id), session_token=token)

    @rx.event
    async def start_over(self) -> list[rx.event.EventSpec]:
        """Abandon this sign-in and go back to the password step."""
        self.voided = False
        self.error = ""

        def abandon(db: Session, pending: PendingLogin) -> None:
            now = utcnow()
            sessions.end_pending_login(db, pending.id, now=now)
            audit.record(db, audit.Event.SIGN_OUT, now=now, user_id=pending.user_id)
            db.commit()

        await self._as_pending(abandon)
        return self._back_to_login()


def _backup_notice(left: int) -> str:
    if left == 0:
        return "You used your last backup code. Generate new ones now."
    if left <= backup_codes.LOW:
        return f"{left} backup code{'s' if left != 1 else ''} left — generate new ones."
    return f"You signed in with a backup code; {left} are left."
