"""AuthState: the one session guard used by every protected page and sensitive handler."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.models import PendingLogin, User
from rxapp.services import audit, sessions
from rxapp.services.clock import utcnow
from rxapp.services.sessions import SignedIn


@contextmanager
def db_session() -> Iterator[Session]:
    """A database session for one handler; objects stay readable after commit."""
    with rx.session() as db:
        db.expire_on_commit = False
        yield db


class AuthState(rx.State):
    """Holds the browser's session token and checks it against the database on every use.

    The token is untrusted input from the browser. Nothing here is an "is signed in" flag:
    handlers call `_signed_in`, which asks the database each time.
    """

    session_token: str = rx.LocalStorage("", name="rxapp_session", sync=True)
    # Set by the password step of a 2FA user; grants nothing but the passcode step.
    pending_token: str = rx.LocalStorage("", name="rxapp_pending", sync=True)
    # Display only; every decision is made again from the database.
    user_email: str = ""
    user_is_admin: bool = False
    # A one-off message for the next page, e.g. after signing in with a backup code.
    notice: str = ""

    def _signed_in(self, db: Session) -> SignedIn | None:
        signed_in = sessions.current_session(db, self.session_token, now=utcnow())
        if signed_in is None:
            self.user_email = ""
            self.user_is_admin = False
        else:
            self.user_email = signed_in.user.email
            self.user_is_admin = signed_in.user.is_admin
        return signed_in

    def _pending_login(self, db: Session) -> PendingLogin | None:
        return sessions.current_pending_login(db, self.pending_token, now=utcnow())

    def _begin_session(self, db: Session, user_id: int) -> rx.event.EventSpec:
        """Start a full session for a user who passed every factor, and go to the profile."""
        now = utcnow()
        user = db.get(User, user_id)
        self.session_token = sessions.start_session(db, user, now=now)
        self.pending_token = ""
        audit.record(db, audit.Event.SIGN_IN_OK, now=now, user_id=user.id, email=user.email)
        db.commit()
        self.user_email = user.email
        self.user_is_admin = user.is_admin
        return rx.redirect(routes.PROFILE, replace=True)

    def _forget_session(self) -> None:
        self.notice = ""
        # Clear only a token the database refused. An empty one may mean this server-side
        # state was lost (e.g. Redis restarted) while the browser still holds a live token:
        # writing "" would erase it, where the next navigation sends it back instead.
        if self.session_token:
            self.session_token = ""
        self.user_email = ""
        self.user_is_admin = False

    @rx.event
    def dismiss_notice(self) -> None:
        """Hide the one-off notice."""
        self.notice = ""

    @rx.event
    def route_by_session(self) -> rx.event.EventSpec:
        """on_load of `/`: the profile when signed in, else the login page."""
        with db_session() as db:
            target = routes.PROFILE if self._signed_in(db) else routes.LOGIN
        return rx.redirect(target, replace=True)

    @rx.event
    def logout(self) -> rx.event.EventSpec:
        """Revoke the session server-side, forget it in the browser, go to the login page."""
        now = utcnow()
        with db_session() as db:
            user_id = sessions.revoke_session(db, self.session_token, now=now)
            if user_id is not None:
                audit.record(db, audit.Event.SIGN_OUT, now=now, user_id=user_id)
                db.commit()
        self._forget_session()
        self.pending_token = ""
        return rx.redirect(routes.LOGIN, replace=True)
