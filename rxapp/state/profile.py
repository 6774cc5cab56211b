"""ProfileState: the account page. Each dialog has a substate of its own (profile_dialogs).

Every handler checks the session this connection proved, in the database, off the loop: the
page's on_load protects nothing. A reconnect (same or another instance) runs on_load again;
it then refreshes the data and keeps open dialogs and a running reveal as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.services import audit, policy, reauth, sessions, user_agents
from rxapp.services.clock import utcnow
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.passkeys import store as passkey_store
from rxapp.services.mfa.totp import flows as totp_flows
from rxapp.services.sessions import SignedIn
from rxapp.state.approvals import ApprovalState
from rxapp.state.auth import AuthState, SignedOut
from rxapp.state.display import iso_time


class PasskeyRow(TypedDict):
    """One passkey in the Passkeys card, as the browser sees it (nothing secret)."""

    id: str
    name: str
    created: str
    last_used: str


class ActivityRow(TypedDict):
    """One line of "Recent security activity", as the browser sees it."""

    when: str
    what: str
    where: str


@dataclass(frozen=True)
class AccountView:
    """What the profile shows about the account (read in a worker thread)."""

    email: str
    is_admin: bool
    member_since: datetime
    last_sign_in: datetime | None
    twofa_active: bool
    twofa_since: datetime | None
    backup_remaining: int
    user_id: int
    session_id: int
    activity: tuple[audit.Activity, ...] = ()
    totp_active: bool = False
    passkeys: tuple[passkey_store.PasskeyInfo, ...] = ()
    # The policy requires 2FA of this account by now and it is not on (RXAPP_REQUIRE_2FA).
    setup_overdue: bool = False
    # The session's proof is fresh enough to add a way into the account (see reauth).
    may_change_methods: bool = False


def read_account(db: Session, signed_in: SignedIn) -> AccountView:
    """The profile's data for a signed-in user, fresh from the database."""
    db.refresh(signed_in.user)
    user = signed_in.user
    active = mfa.has_second_factor(user)
    return AccountView(
        email=user.email,
        is_admin=user.is_admin,
        member_since=user.created_at,
        last_sign_in=user.last_sign_in_at,
        twofa_active=active,
        twofa_since=user.totp_enabled_at,
        backup_remaining=backup_codes.remaining(db, user.id) if active else 0,
        user_id=user.id,
        session_id=signed_in.session.id,
        activity=tuple(audit.recent_activity(db, user.id)),
        totp_active=totp_flows.is_enabled(user),
        passkeys=tuple(passkey_store.listed(db, user.id)),
        setup_overdue=not active and policy.requirement(user).overdue(now=utcnow()),
        may_change_methods=reauth.may_change_methods(signed_in, now=utcnow()),
    )


def _passkey_row(item: passkey_store.PasskeyInfo) -> PasskeyRow:
    return PasskeyRow(
        id=str(item.id),
        name=item.name,
        created=iso_time(item.created_at),
        last_used=iso_time(item.last_used_at),
    )


def account_for_token(db: Session, token: str) -> AccountView | None:
    """The profile's data for the session `token` just started (in a worker thread)."""
    signed_in = sessions.current_session(db, token, now=utcnow(), touch=False)
    return read_account(db, signed_in) if signed_in is not None else None


async def show_account_now(state: rx.State, view: AccountView) -> None:
    """Fill the profile for the session this connection just started, so that the page
    shows it on arrival (its on_load reads it again)."""
    profile = await state.get_state(ProfileState)
    profile._apply(view)
    profile._hand_over(routes.PROFILE, view)


def _activity_row(item: audit.Activity) -> ActivityRow:
    browser = user_agents.describe(item.user_agent) if item.user_agent else ""
    where = " · ".join(part for part in (item.ip, browser) if part) or "—"
    return ActivityRow(when=iso_time(item.at), what=item.what, where=where)


class ProfileState(AuthState):
    """What the profile page shows for the signed-in user."""

    member_since: str = ""
    last_sign_in: str = ""
    twofa_active: bool = False
    # TOTP itself (2FA may be on with passkeys alone).
    totp_active: bool = False
    twofa_since: str = ""
    backup_remaining: int = 0
    passkeys: list[PasskeyRow] = []
    activity: list[ActivityRow] = []
    # True once the account has been read for this tab: until then the page shows a
    # loading state, never the defaults above as if they were data.
    profile_loaded: bool = False

    @rx.var
    def backup_low(self) -> bool:
        """Whether to warn that few unused backup codes are left."""
        return self.twofa_active and self.backup_remaining <= backup_codes.LOW

    def _apply(self, view: AccountView) -> None:
        self.user_email = view.email
        self.user_is_admin = view.is_admin
        self.member_since = iso_time(view.member_since)
        self.last_sign_in = iso_time(view.last_sign_in)
        self.twofa_active = view.twofa_active
        self.totp_active = view.totp_active
        self.twofa_since = iso_time(view.twofa_since)
        self.backup_remaining = view.backup_remaining
        self.passkeys = [_passkey_row(item) for item in view.passkeys]
        self.activity = [_activity_row(item) for item in view.activity]
        self.session_checked = True
        self.profile_loaded = True

    def _clear_account(self) -> None:
        self.member_since = ""
        self.last_sign_in = ""
        self.twofa_active = False
        self.totp_active = False
        self.twofa_since = ""
        self.backup_remaining = 0
        self.passkeys = []
        self.activity = []
        self.profile_loaded = False

    @rx.event
    async def refresh(self) -> list[rx.event.EventSpec] | None:
        """The person came back to this tab: show what changed meanwhile (2FA turned on or
        off in another tab, passkeys, backup codes), or go to the login page."""
        if await self._show_account() is None:
            return self._to_login()
        return None

    async def _show_account(self, arrived: AccountView | None = None) -> AccountView | None:
        """Show the account (`arrived`: handed over with the step that led here; else read
        now). None when signed out: the account is forgotten."""
        view = arrived or await self._as_user(read_account)
        if isinstance(view, SignedOut):
            self._clear_account()
            return None
        self._apply(view)
        return view

    @rx.event
    async def open_profile(self) -> list[rx.event.EventSpec] | None:
        """on_load: load the account, or go to the login page. A navigation closes the
        dialogs; a reconnect keeps them (and puts their secrets back in this process)."""
        from rxapp.state.profile_dialogs import (
            EnrollState,
            a_dialog_is_open,
            open_setup,
            restore_dialogs,
        )

        arrived = self._take_arrival(routes.PROFILE)
        view = await self._show_account(arrived)
        if view is None:
            return self._to_login()
        reconnected = self._page_loaded()
        # A tab that arrives with its data handed over shows the page before this runs: a
        # dialog open already was opened here, by the person, and stays.
        keep_open = reconnected or arrived is not None
        events = [*(await restore_dialogs(self, view, keep_open=keep_open) or [])]
        events.append(ApprovalState.watch)
        arriving_fresh, self._setup_on_arrival = self._setup_on_arrival, False
        if arriving_fresh and not view.twofa_active:
            events.append(await open_setup(self))
        elif view.setup_overdue and not await a_dialog_is_open(self):
            # Required by now: every visit opens the setup (after the password, when the
            # sign-in is no longer fresh), not only the first after signing in; never over
            # a dialog a reload kept open (adding a passkey meets the rule too).
            events.append(EnrollState.start)
        return [event for event in events if event is not None]
