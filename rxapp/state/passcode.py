"""PasscodeState: the second step of signing in, with a TOTP or backup code."""

from __future__ import annotations

from collections.abc import Iterator

import reflex as rx

from rxapp import routes
from rxapp.services import audit, backup_codes, sessions, twofactor
from rxapp.services.clock import utcnow
from rxapp.state.auth import AuthState, db_session


class PasscodeState(AuthState):
    """Only a live pending login may use this page; it grants nothing else."""

    error: str = ""
    busy: bool = False

    @rx.event
    def open_passcode(self) -> rx.event.EventSpec | None:
        """on_load: without a pending login, back to the password step."""
        self.error = ""
        self.busy = False
        with db_session() as db:
            if self._pending_login(db) is None:
                self.pending_token = ""
                return rx.redirect(routes.LOGIN, replace=True)
        return None

    @rx.event
    def submit(self, form: dict | None = None) -> Iterator[rx.event.EventSpec | None]:
        """Check the code; start the full session, or explain what went wrong."""
        if self.busy:
            return
        code = form.get("code") if isinstance(form, dict) else None
        self.busy = True
        yield
        try:
            with db_session() as db:
                now = utcnow()
                pending = self._pending_login(db)
                if pending is None:
                    self.pending_token = ""
                    self.error = ""
                    yield rx.redirect(routes.LOGIN, replace=True)
                    return
                result = twofactor.verify_login_code(db, pending, code, now=now)
                if not result.ok:
                    self.error = result.message
                    if result.login_voided:
                        self.pending_token = ""
                    yield rx.set_value("passcode-input", "")
                    return
                self.error = ""
                redirect = self._begin_session(db, pending.user_id)
                if result.used_backup_code and result.backup_codes_left is not None:
                    self.notice = _backup_notice(result.backup_codes_left)
                yield redirect
        finally:
            self.busy = False

    @rx.event
    def start_over(self) -> rx.event.EventSpec:
        """Abandon this sign-in and go back to the password step."""
        with db_session() as db:
            pending = self._pending_login(db)
            if pending is not None:
                sessions.end_pending_login(db, pending.id, now=utcnow())
                audit.record(db, audit.Event.SIGN_OUT, now=utcnow(), user_id=pending.user_id)
                db.commit()
        self.pending_token = ""
        return rx.redirect(routes.LOGIN, replace=True)


def _backup_notice(left: int) -> str:
    if left == 0:
        return "You used your last backup code. Generate new ones now."
    if left <= backup_codes.LOW:
        return f"{left} backup code{'s' if left != 1 else ''} left — generate new ones."
    return f"You signed in with a backup code; {left} are left."
