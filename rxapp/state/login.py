"""LoginState: the password step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypedDict

import reflex as rx

from rxapp import routes
from rxapp.services import accounts, audit, sessions, twofactor
from rxapp.services.clock import utcnow
from rxapp.services.emails import email_problem, normalize_email
from rxapp.state.auth import AuthState, db_session


class LoginForm(TypedDict, total=False):
    email: str
    password: str


class LoginState(AuthState):
    """The login form: one generic message for every wrong email/password pair."""

    error: str = ""
    busy: bool = False

    @rx.event
    def open_login(self) -> rx.event.EventSpec | None:
        """on_load: a signed-in visitor goes straight to the profile."""
        self.error = ""
        self.busy = False
        with db_session() as db:
            if self._signed_in(db) is not None:
                return rx.redirect(routes.PROFILE, replace=True)
        return None

    @rx.event
    def submit(self, form: dict | None = None) -> Iterator[rx.event.EventSpec | None]:
        """Check email and password; start a session or, for 2FA users, a pending login."""
        if self.busy:
            return
        form = form if isinstance(form, dict) else {}
        email = normalize_email(form.get("email"))
        password = form.get("password")
        if problem := email_problem(email):
            self.error = problem
            return
        if not isinstance(password, str) or password == "":
            self.error = "Enter your password."
            return
        self.error = ""
        self.busy = True
        yield
        try:
            with db_session() as db:
                step = accounts.check_password_step(db, email, password, now=utcnow())
                if step.user is None:
                    self.error = step.message
                    yield rx.set_value("login-password", "")
                    return
                if twofactor.is_enabled(step.user):
                    now = utcnow()
                    self.pending_token = sessions.start_pending_login(db, step.user, now=now)
                    audit.record(db, audit.Event.SIGN_IN_PENDING, now=now, user_id=step.user.id)
                    db.commit()
                    yield rx.redirect(routes.PASSCODE, replace=True)
                    return
                yield self._begin_session(db, step.user.id)
        finally:
            self.busy = False
