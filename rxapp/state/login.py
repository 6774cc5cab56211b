"""LoginState: the password step."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.models import User
from rxapp.services import accounts, audit, policy, sessions
from rxapp.services.clock import utcnow
from rxapp.services.emails import email_problem, normalize_email
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.passkeys import challenges as passkey_challenges
from rxapp.services.mfa.passkeys import flows as passkey_flows
from rxapp.state import browser_tokens
from rxapp.state import passkeys as browser
from rxapp.state.auth import AuthState, SignedOut, begin_session
from rxapp.state.display import admin_changes_notice, day_in_words
from rxapp.state.offloop import run_db
from rxapp.state.passcode import PasscodeState, PendingView, pending_view
from rxapp.state.profile import AccountView, account_for_token, show_account_now

# How long a sign-in waits for another one on the same account to be checked (a check
# holds the account's key for at most 2 seconds), and how often it looks: first after
# 50 ms (a check takes about that), then less and less often.
BUSY_PATIENCE_SECONDS = 3.0
BUSY_RETRY_SECONDS = 0.05
BUSY_RETRY_MAX_SECONDS = 0.4


@dataclass(frozen=True)
class _Outcome:
    """What the password step decided (computed in a worker thread)."""

    message: str = ""
    busy: bool = False
    """Another attempt on the same account is being checked: try again in a moment."""
    wait_seconds: int = 0
    """The throttle's wait that `message` tells of."""
    user: User | None = None
    session_token: str = ""
    pending_token: str = ""
    requirement: policy.Requirement | None = None
    # What the next page shows, read here so that it shows it on arrival.
    pending: PendingView | None = None
    account: AccountView | None = None
    # What an admin changed on the account since its last sign-in (told on arrival).
    admin_changes: str = ""


class LoginState(AuthState):
    """The login form: one generic message for every wrong email/password pair."""

    error: str = ""
    # The wait `error` tells of, counted down on the page (see widgets).
    wait_seconds: int = 0
    # Submissions of the form answered: the submit button is busy until this changes
    # (components/early_submit.py), with no round trip of its own.
    answers: int = 0
    # The step succeeded: its button goes on showing progress (not `aria-busy`: the answer
    # has come) until the next page, whose scripts may still be loading, replaces the form.
    leaving: bool = False
    # The browser is asking for a passkey.
    passkey_waiting: bool = False

    def _passkey_binding(self) -> str:
        """A passwordless challenge belongs to this connection (there is no session yet)."""
        return passkey_challenges.binding("connection", self._sid())

    @rx.event
    async def use_passkey(self) -> Any:
        """Sign in with a passkey alone: ask the browser for a discoverable credential."""
        rp = browser.relying_party(self.router.headers.origin)
        if rp is None or not self._sid():
            self.error = browser.UNAVAILABLE
            return None
        bound = self._passkey_binding()
        options = await run_db(
            lambda db: passkey_flows.begin_sign_in(db, rp, bound, now=utcnow()),
            where=self._origin(),
        )
        self.error = ""
        self.passkey_waiting = True
        return browser.in_browser("get", options, LoginState.finish_passkey)

    @rx.event
    async def finish_passkey(self, result: str) -> list[rx.event.EventSpec] | None:
        """The browser's answer: both factors at once, or a message."""
        self.passkey_waiting = False
        rp = browser.relying_party(self.router.headers.origin)
        if rp is None:
            self.error = browser.UNAVAILABLE
            return None
        bound = self._passkey_binding()
        device_events = self._new_device_if_needed()
        device, where = self._device_digest, self._origin()

        def finish(db: Session) -> _Outcome:
            signed = passkey_flows.finish_sign_in(
                db, rp, bound, result, now=utcnow(), client_ip=where.ip
            )
            if signed.user_id is None:
                return _Outcome(message=signed.message)
            user = db.get(User, signed.user_id)
            changes = audit.admin_changes_since(db, user.id, user.last_sign_in_at)
            token = begin_session(db, user.id, device, epoch=signed.epoch, second_factor=True)
            return _Outcome(
                user=user, session_token=token, admin_changes=admin_changes_notice(changes)
            )

        outcome = await run_db(finish, where=where)
        if outcome.user is None:
            self.error = outcome.message
            return device_events or None
        self.error = ""
        self._tell(outcome.admin_changes)
        return [*device_events, *self._enter(outcome.session_token, outcome.user)]

    @rx.event
    async def open_login(self) -> rx.event.EventSpec | None:
        """on_load: a signed-in visitor goes straight to the profile."""
        self.error = ""
        self.leaving = False
        result = await self._as_user(lambda _db, signed_in: signed_in.user)
        if isinstance(result, SignedOut):
            self._page_loaded()
            return None
        self._show_user(result)
        return rx.redirect(routes.PROFILE, replace=True)

    @rx.event
    async def submit(self, form: dict) -> list[rx.event.EventSpec] | None:
        """Check email and password; start a session or, for 2FA users, a pending login."""
        self.answers += 1
        self.notice = ""  # why the last session ended: read, and answered by signing in
        self.wait_seconds = 0
        email = normalize_email(form.get("email"))
        password = form.get("password")
        if problem := email_problem(email):
            self.error = problem
            return None
        if not isinstance(password, str) or password == "":
            self.error = "Enter your password."
            return None
        device_events = self._new_device_if_needed()
        device, where = self._device_digest, self._origin()
        proof = self._proof()
        earlier_pending = proof.pending_digest if proof else ""
        # Another sign-in to the same account being checked holds its throttle key for a
        # moment (two tabs, or two people, at once): wait for it rather than refuse.
        give_up_at = time.monotonic() + BUSY_PATIENCE_SECONDS
        pause = BUSY_RETRY_SECONDS
        while True:
            outcome = await run_db(
                lambda db: self._password_step(
                    db, email, password, device, where.ip, earlier_pending
                ),
                heavy=True,
                where=where,
            )
            if not outcome.busy or time.monotonic() >= give_up_at:
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, BUSY_RETRY_MAX_SECONDS)
        if outcome.user is None:
            self.error = outcome.message
            self.wait_seconds = outcome.wait_seconds
            return [*device_events, rx.set_value("login-password", "")]
        self.error = ""
        self.leaving = True
        if outcome.pending_token:
            self._bind(pending_token=outcome.pending_token)
            if outcome.pending is not None:
                (await self.get_state(PasscodeState))._show_new_pending(outcome.pending)
                self._hand_over(routes.PASSCODE, outcome.pending)
            return [
                *device_events,
                browser_tokens.keep_pending(outcome.pending_token),
                rx.redirect(routes.PASSCODE, replace=True),
            ]
        events = [*device_events, *self._enter(outcome.session_token, outcome.user)]
        if outcome.account is not None:
            await show_account_now(self, outcome.account)
        asked = ""
        if outcome.requirement is not None and outcome.requirement.required:
            asked = self._ask_for_2fa(outcome.user, outcome.requirement)
        self._tell(" ".join(notice for notice in (outcome.admin_changes, asked) if notice))
        return events

    def _ask_for_2fa(self, user: User, requirement: policy.Requirement) -> str:
        """What to tell a user the policy asks to use 2FA; past the grace period, its setup
        opens on arrival."""
        deadline = day_in_words(requirement.deadline)
        if requirement.overdue(now=utcnow()):
            self._setup_on_arrival = True
            return "Two-factor authentication is required for your account: set it up now."
        if user.is_admin:
            # All users is closed to an admin without 2FA already; the date is the account's.
            return (
                "As an admin you need two-factor authentication to open All users: set it up "
                f"now. From {deadline} your account requires it."
            )
        return f"Turn on two-factor authentication by {deadline}."

    def _password_step(
        self,
        db: Session,
        email: str,
        password: str,
        device: str,
        client_ip: str,
        earlier_pending: str = "",
    ) -> _Outcome:
        """The password check and what follows it (in a worker thread). A new pending login
        ends the one this tab started before (`earlier_pending`, its digest), and with it
        any request for approval that one made: the person gave it up."""
        now = utcnow()
        checked = accounts.check_password_step(
            db, email, password, now=now, device=device, client_ip=client_ip
        )
        if checked.user is None:
            return _Outcome(
                message=checked.message, busy=checked.busy, wait_seconds=checked.wait_seconds
            )
        user = checked.user
        if mfa.has_second_factor(user):
            earlier = sessions.pending_login_by_digest(db, earlier_pending, now=now)
            if earlier is not None and sessions.end_pending_login(db, earlier.id, now=now):
                audit.record(db, audit.Event.SIGN_IN_ABANDONED, now=now, user_id=earlier.user_id)
            token = sessions.start_pending_login(db, user, now=now)
            audit.record(db, audit.Event.SIGN_IN_PENDING, now=now, user_id=user.id)
            db.commit()
            pending = sessions.current_pending_login(db, token, now=now)
            view = pending_view(db, pending, device) if pending is not None else None
            return _Outcome(user=user, pending_token=token, pending=view)
        changes = audit.admin_changes_since(db, user.id, user.last_sign_in_at)
        # `user` as loaded before its password was checked: its epoch is from before, too.
        token = begin_session(db, user.id, device, epoch=user.credential_epoch)
        return _Outcome(
            user=user,
            session_token=token,
            requirement=policy.requirement(user),
            account=account_for_token(db, token),
            admin_changes=admin_changes_notice(changes),
        )
