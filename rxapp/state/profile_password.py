"""PasswordState: changing the password from the profile."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from rxapp.components.layout import focus_script
from rxapp.services import accounts, reauth
from rxapp.services.clock import utcnow
from rxapp.services.sessions import SignedIn
from rxapp.state.auth import SignedOut
from rxapp.state.profile import AccountView, ProfileState, read_account

CHANGED = "Password changed. Every other session of your account was signed out."
PROOF_EXPIRED = "Confirm it is you first: close this and choose Change password again."
CURRENT_FIELD = "password-current"
NEW_FIELD = "password-new"


class PasswordState(ProfileState):
    """The change-password dialog: the current password, then the new one."""

    open: bool = False
    error: str = ""
    # Which field `error` is about: the new password (else the current one).
    error_on_new: bool = False
    # The wait `error` tells of, counted down on screen (0: none).
    wait_seconds: int = 0
    # Submissions of the dialog's form answered: its submit button is busy until this changes.
    answers: int = 0

    @rx.event
    async def start(self) -> Any:
        """Open the dialog; with 2FA on, after a fresh code (or passkey) first."""
        from rxapp.state.profile_dialogs import ReauthState

        def check(db: Session, signed_in: SignedIn) -> tuple[bool, AccountView]:
            allowed = reauth.may_change_password(signed_in, now=utcnow())
            return allowed, read_account(db, signed_in)

        result = await self._as_user(check)
        if isinstance(result, SignedOut):
            return self._to_login()
        allowed, view = result
        self._apply(view)
        if not allowed:
            (await self.get_state(ReauthState))._ask("password", view)
            return None
        self._open()
        return None

    def _open(self) -> None:
        self.error, self.wait_seconds = "", 0
        self.open = True

    @rx.event
    def close(self, _open: object = False) -> None:
        """Keep the password."""
        self.open = False
        self.error, self.wait_seconds = "", 0

    @rx.event
    async def submit(self, form: dict) -> Any:
        """Check the current password, then store the new one; other sessions end."""
        self.answers += 1
        self.wait_seconds = 0
        current, new = form.get("current"), form.get("new")
        device = self._proven_device()

        def change(
            db: Session, signed_in: SignedIn
        ) -> tuple[accounts.PasswordRefused | None, AccountView]:
            refused = (
                accounts.change_password(
                    db,
                    signed_in.user,
                    current,
                    new,
                    now=utcnow(),
                    device=device,
                    keep_session_id=signed_in.session.id,
                )
                if reauth.may_change_password(signed_in, now=utcnow())
                else accounts.PasswordRefused(PROOF_EXPIRED, new_one=False)
            )
            return refused, read_account(db, signed_in)

        result = await self._as_user(change, heavy=True)
        if isinstance(result, SignedOut):
            self.open = False
            return self._to_login()
        refused, view = result
        self._apply(view)
        if refused is not None:
            self.error, self.wait_seconds = refused.message, refused.wait_seconds
            self.error_on_new = refused.new_one
            # Empty only the field to type again, and take the person there.
            field = NEW_FIELD if refused.new_one else CURRENT_FIELD
            return [rx.set_value(field, ""), focus_script(field)]
        self.open = False
        self.error = ""
        return rx.toast.success(CHANGED)
