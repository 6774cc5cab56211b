"""PasscodeState: the second step of signing in, with a TOTP or backup code."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.models import PendingLogin, User
from rxapp.services import audit, backup_codes, sessions, twofactor
from rxapp.services.clock import utcnow
from rxapp.state import browser_tokens
from rxapp.state.auth import AuthState, SignedOut


@dataclass(frozen=True)
class _Outcome:
    """What the passcode step decided (computed in a worker thread)."""

    check: twofactor.CodeCheck
    user: User | None = None
    session_token: str = ""
    failed_codes: audit.FailedCodes | None = None


class PasscodeState(AuthState):
    """Only a live pending login proved on this connection may use this page."""

    error: str = ""

    def _back_to_login(self) -> list[rx.event.EventSpec]:
        self._pending_digest = ""
        return [browser_tokens.forget(session=False), rx.redirect(routes.LOGIN, replace=True)]

    @rx.event
    async def open_passcode(self) -> list[rx.event.EventSpec] | None:
        """on_load: without a pending login, back to the password step."""
        self.error = ""
        found = await self._as_pending(lambda _db, pending: pending.id)
        if isinstance(found, SignedOut):
            return self._back_to_login()
        self.session_checked = True
        return None

    @rx.event
    async def submit(self, form: dict) -> list[rx.event.EventSpec]:
        """Check the code; start the full session, or explain what went wrong."""
        code = form.get("code")
        device_events = self._new_device_if_needed()
        device = self._device_digest
        outcome = await self._as_pending(
            lambda db, pending: self._check(db, pending, code, device), heavy=True
        )
        if isinstance(outcome, SignedOut):
            self.error = ""
            return self._back_to_login()
        result = outcome.check
        if not result.ok:
            self.error = result.message
            if result.login_voided:
                self._pending_digest = ""
            return [rx.set_value("passcode-input", "")]
        self.error = ""
        redirect = [*device_events, *self._enter(outcome.session_token, outcome.user)]
        notices = []
        if outcome.failed_codes is not None:
            notices.append(_failed_codes_notice(outcome.failed_codes))
        if result.used_backup_code and result.backup_codes_left is not None:
            notices.append(_backup_notice(result.backup_codes_left))
        self.notice = " ".join(notices)
        return redirect

    def _check(self, db: Session, pending: PendingLogin, code: object, device: str) -> _Outcome:
        """Check the code and, when it holds, start the session (in a worker thread)."""
        result = twofactor.verify_login_code(db, pending, code, now=utcnow())
        if not result.ok:
            return _Outcome(check=result)
        previous_sign_in = db.get(User, pending.user_id).last_sign_in_at
        failed = audit.failed_codes_since(
            db, pending.user_id, previous_sign_in, except_session=f"pending {pending.id}"
        )
        token = self._begin_session(db, pending.user_id, device, second_factor=True)
        user = db.get(User, pending.user_id)
        return _Outcome(check=result, user=user, session_token=token, failed_codes=failed)

    @rx.event
    async def start_over(self) -> list[rx.event.EventSpec]:
        """Abandon this sign-in and go back to the password step."""

        def abandon(db: Session, pending: PendingLogin) -> None:
            now = utcnow()
            sessions.end_pending_login(db, pending.id, now=now)
            audit.record(db, audit.Event.SIGN_OUT, now=now, user_id=pending.user_id)
            db.commit()

        await self._as_pending(abandon)
        return self._back_to_login()


def _failed_codes_notice(failed: audit.FailedCodes) -> str:
    where = f" from {failed.latest_ip}" if failed.latest_ip else ""
    when = failed.latest_at.strftime("%d %b %Y, %H:%M UTC")
    tries = "wrong code was" if failed.count == 1 else "wrong codes were"
    return (
        f"{failed.count} {tries} entered for your account since you last signed in, the "
        f"latest on {when}{where}. If that was not you, someone knows your password."
    )


def _backup_notice(left: int) -> str:
    if left == 0:
        return "You used your last backup code. Generate new ones now."
    if left <= backup_codes.LOW:
        return f"{left} backup code{'s' if left != 1 else ''} left — generate new ones."
    return f"You signed in with a backup code; {left} are left."
