"""ProfileState: the signed-in user's account page."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.state.auth import AuthState, db_session


class ProfileState(AuthState):
    """What the profile page shows about the signed-in user."""

    member_since: str = ""
    last_sign_in: str = ""

    @rx.event
    def open_profile(self) -> rx.event.EventSpec | None:
        """on_load: load the account or go to the login page."""
        with db_session() as db:
            signed_in = self._signed_in(db)
            if signed_in is None:
                self._forget_session()
                return rx.redirect(routes.LOGIN, replace=True)
            user = signed_in.user
            self.member_since = user.created_at.strftime("%d %b %Y")
            self.last_sign_in = (
                user.last_sign_in_at.strftime("%d %b %Y, %H:%M UTC") if user.last_sign_in_at else ""
            )
        return None
