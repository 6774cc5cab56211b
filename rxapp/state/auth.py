"""AuthState: the one session guard used by every protected page and sensitive handler.

Reflex's per-tab state is not a safe: its key (the tab's client token) travels in URLs and
logs, and the state itself is persisted (disk or Redis). So:

- The browser proves its session on every connection. Its tokens (in `localStorage`) arrive
  with the connection's first event (Reflex's hydrate) and again when another tab changes
  them; `__setattr__` keeps only their SHA-256 digests, together with the Socket.IO id of the
  connection that presented them. A handler acts for an account only when the event comes
  over that same connection: knowing a tab id gives nothing.
- No token rests in the state in clear, and the digests are never sent back to the browser.
- Every decision asks the database again, in a worker thread (`run_db`), never on the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.models import PendingLogin, User
from rxapp.services import audit, devices, sessions
from rxapp.services.clock import utcnow
from rxapp.services.sessions import SignedIn
from rxapp.services.tokens import new_token, token_hash
from rxapp.state import approval_hub, browser_tokens
from rxapp.state.offloop import run_db

if TYPE_CHECKING:
    from reflex.istate.data import SessionData

T = TypeVar("T")
# How long a page's handed-over data (see `AuthState._hand_over`) stays usable.
ARRIVAL_SECONDS = 10.0
# Told on the login page to a tab whose session ended while it showed the account.
SESSION_ENDED = (
    "You were signed out. A session ends when it is signed out in another tab or on "
    "another device, when the password or two-factor settings change, or after a long "
    "time without use."
)

# The browser-storage vars whose values are credentials: never kept, never echoed back.
_TOKEN_VARS = {
    "session_token": "_session_digest",
    "pending_token": "_pending_digest",
    "device_token": "_device_digest",
}


def _overrides_reflex(fn: Callable[..., T]) -> Callable[..., T]:
    """Mark a deliberate override of a Reflex State method (Reflex refuses silent ones)."""
    fn.__override_base_method__ = True  # type: ignore[attr-defined]
    return fn


class SignedOut:
    """The marker a guarded piece of work returns when there is no live session."""


SIGNED_OUT = SignedOut()


@dataclass(frozen=True)
class Proof:
    """What the current connection proved: digests of the tokens it presented."""

    session_digest: str
    pending_digest: str
    device_digest: str = ""


class AuthState(rx.State):
    """The session guard. Nothing here is an "is signed in" flag: every handler asks the
    database through `_as_user` / `_as_pending`, for the session this connection proved."""

    # Filled by the browser when the socket connects; kept only as digests (see __setattr__).
    session_token: str = rx.LocalStorage("", name=browser_tokens.SESSION_KEY, sync=True)
    pending_token: str = rx.LocalStorage("", name=browser_tokens.PENDING_KEY, sync=True)
    # This browser's device token: its password attempts count apart (see throttle).
    device_token: str = rx.LocalStorage("", name=browser_tokens.DEVICE_KEY, sync=True)
    _session_digest: str = ""
    _pending_digest: str = ""
    _device_digest: str = ""
    # The Socket.IO id (assigned by the server, new for every connection) that proved them.
    _proof_sid: str = ""
    # The session digest whose account the per-user values in this tab belong to.
    _owned_by: str = ""

    # Display only; every decision is made again from the database.
    user_email: str = ""
    user_is_admin: bool = False
    # False until the server has confirmed who is signed in: pages show a neutral loading
    # state until then, never a default value as if it were data.
    session_checked: bool = False
    # A one-off message for the next page, e.g. after signing in with a backup code: set
    # with `_tell`, shown by the page the person goes to next, gone from the one after.
    notice: str = ""
    _notice_fresh: bool = False
    # The connection that last loaded a page of this tab: another one means a reconnect or
    # a reload.
    _loaded_sid: str = ""
    # Open the 2FA setup when the profile loads (the policy's grace period is over).
    _setup_on_arrival: bool = False
    # What the next page shows, handed over by the step that sends this connection there
    # (page, connection key, deadline, view): that page's on_load takes it instead of
    # reading the database again; once, for this connection and these tokens only.
    _arrival: tuple[str, str, float, Any] | None = None

    @_overrides_reflex
    def __setattr__(self, name: str, value: Any) -> None:
        """Keep only the digest of a token the browser presents, bound to this connection."""
        digest_name = _TOKEN_VARS.get(name)
        if digest_name is not None:
            self._claim_connection()
            super().__setattr__(digest_name, token_hash(value) or "")
            value = ""
        super().__setattr__(name, value)

    def _claim_connection(self) -> None:
        """Make the current connection the proving one. A connection that did not prove
        anything yet starts from nothing: no digest presented on an earlier connection
        (the same tab id, perhaps someone else's) carries over to it."""
        sid = self._sid()
        if sid != self._proof_sid:
            self._session_digest = ""
            self._pending_digest = ""
            self._device_digest = ""
            self._proof_sid = sid

    @_overrides_reflex
    def get_delta(self) -> dict[str, dict[str, Any]]:
        """Never send the token vars back: an empty value would erase the browser's token."""
        delta = super().get_delta()
        mine = delta.get(self.get_full_name())
        if mine is not None:
            for name in _TOKEN_VARS:
                mine.pop(name + "_rx_state_", None)
            if not mine:
                del delta[self.get_full_name()]
        return delta

    @_overrides_reflex
    def dict(self, include_computed: bool = True, initial: bool = False, **kwargs: Any) -> Any:
        """The full snapshot a (re)connecting browser receives. A connection that did not
        present the token these values belong to gets the defaults: a tab id alone shows
        nothing of the account that used it."""
        if not initial and self._owned_by and self._session_digest != self._owned_by:
            self._reset_personal()
        return super().dict(include_computed=include_computed, initial=initial, **kwargs)

    def _reset_personal(self) -> None:
        """Every per-user value of this tab back to its default (dialogs and pages too)."""
        guard: rx.State = self
        while type(guard) is not AuthState:
            guard = guard.parent_state
        keep = (guard._session_digest, guard._pending_digest, guard._device_digest)
        sid = guard._proof_sid
        guard.reset()
        guard._session_digest, guard._pending_digest, guard._device_digest = keep
        guard._proof_sid = sid
        guard._owned_by = ""

    # --- the guard ------------------------------------------------------------------------

    def _connection(self) -> SessionData | None:
        """This connection's session data (None while Reflex builds the state).

        Read from Reflex's own router var: `self.router` assembles the whole RouterData
        (URL, headers, page) on every read, and the guard asks for this many times per
        event, in every uncached var of every delta.
        """
        try:
            return self.rx_router_session
        except AttributeError:  # while Reflex builds the state, before any event
            return None

    def _sid(self) -> str:
        session = self._connection()
        return (session.session_id if session else "") or ""

    def _tab(self) -> str:
        """This tab's client token (Reflex's key to its state)."""
        session = self._connection()
        return (session.client_token if session else "") or ""

    def _proven_session(self) -> str:
        """The session digest this connection proved ("" when none)."""
        proof = self._proof()
        return proof.session_digest if proof else ""

    def _proof(self) -> Proof | None:
        """The digests this connection proved, or None for any other connection."""
        sid = self._sid()
        if not sid or sid != self._proof_sid:
            return None
        return Proof(self._session_digest, self._pending_digest, self._device_digest)

    def _bind(self, *, session_token: str = "", pending_token: str = "") -> None:
        """Bind tokens the server just issued to this connection."""
        self._claim_connection()
        self._session_digest = token_hash(session_token) or ""
        self._pending_digest = token_hash(pending_token) or ""

    def _connection_key(self) -> str:
        """This connection and the tokens it proved."""
        proof = self._proof()
        return f"{self._sid()}|{proof.session_digest}|{proof.pending_digest}" if proof else ""

    def _hand_over(self, page: str, view: Any) -> None:
        """Give the on_load of `page` its data, read by the step that sends the tab there."""
        deadline = utcnow().timestamp() + ARRIVAL_SECONDS
        self._arrival = (page, self._connection_key(), deadline, view)

    def _take_arrival(self, page: str) -> Any:
        """The data handed over for `page` on this connection (once), or None."""
        arrival, self._arrival = self._arrival, None
        if arrival is None or arrival[:2] != (page, self._connection_key()):
            return None
        return arrival[3] if arrival[2] > utcnow().timestamp() else None

    def _proven_device(self) -> str:
        """This connection's device digest ("" when none was presented)."""
        proof = self._proof()
        return proof.device_digest if proof else ""

    def _new_device_if_needed(self) -> list[rx.event.EventSpec]:
        """Give this browser a device token unless it proved one; bind it."""
        if self._proven_device():
            return []
        token = new_token()
        self._claim_connection()
        self._device_digest = token_hash(token) or ""
        return [browser_tokens.keep_device(token)]

    async def _as_user(
        self, work: Callable[[Session, SignedIn], T], *, touch: bool = True, heavy: bool = False
    ) -> T | SignedOut:
        """Run `work(db, signed_in)` off the loop for this connection's live session, or
        return SIGNED_OUT (and forget the session) when there is none. `heavy`: the work
        verifies an argon2 hash (see `run_db`)."""
        proof = self._proof()
        digest = proof.session_digest if proof else ""

        def guarded(db: Session) -> T | SignedOut:
            signed_in = sessions.session_by_digest(db, digest, now=utcnow(), touch=touch)
            if signed_in is None:
                return SIGNED_OUT
            audit.set_session(f"session {signed_in.session.id}")
            return work(db, signed_in)

        where = self._origin()
        result = await run_db(guarded, heavy=heavy, where=where) if digest else SIGNED_OUT
        if isinstance(result, SignedOut):
            showed_it = bool(digest) and self._owned_by == digest
            self._forget_user()
            if showed_it:  # this tab showed the account of a session now ended: say so
                self._tell(SESSION_ENDED)
        else:
            self._owned_by = digest
        return result

    async def _as_pending(
        self, work: Callable[[Session, PendingLogin], T], *, heavy: bool = False
    ) -> T | SignedOut:
        """Run `work(db, pending)` off the loop for this connection's live pending login."""
        proof = self._proof()
        digest = proof.pending_digest if proof else ""

        def guarded(db: Session) -> T | SignedOut:
            pending = sessions.pending_login_by_digest(db, digest, now=utcnow())
            if pending is None:
                return SIGNED_OUT
            audit.set_session(f"pending {pending.id}")
            return work(db, pending)

        return await run_db(guarded, heavy=heavy, where=self._origin()) if digest else SIGNED_OUT

    def _origin(self) -> audit.Origin:
        """Where this tab's events come from, for the audit trail."""
        session = self._connection()
        return audit.Origin(
            ip=(session.client_ip if session else "") or "",
            user_agent=(self.rx_router_headers.user_agent or "")[:255],
        )

    def _show_user(self, user: User) -> None:
        self.user_email = user.email
        self.user_is_admin = user.is_admin
        self.session_checked = True

    def _forget_user(self) -> None:
        """Drop every per-user value of this tab (its session is gone)."""
        if self._owned_by:
            self._reset_personal()
        self._session_digest = ""
        self.session_checked = True

    def _to_login(self) -> list[rx.event.EventSpec]:
        """Where a handler sends a tab with no live session: the login page (after one
        reload when the browser holds a token it has not presented on this connection)."""
        return [browser_tokens.prove_again_or_forget(), rx.redirect(routes.LOGIN, replace=True)]

    def _enter(self, token: str, user: User) -> list[rx.event.EventSpec]:
        """Bind a new session to this connection, store it in the browser, go to the profile."""
        self._bind(session_token=token)
        self._owned_by = self._session_digest
        self._show_user(user)
        return [browser_tokens.keep_session(token), rx.redirect(routes.PROFILE, replace=True)]

    # --- events ---------------------------------------------------------------------------

    @rx.event
    def dismiss_notice(self) -> None:
        """Hide the one-off notice."""
        self.notice = ""

    def _tell(self, notice: str) -> None:
        """A one-off notice for the next page this tab shows."""
        self.notice, self._notice_fresh = notice, bool(notice)

    def _page_loaded(self) -> bool:
        """A page that shows the notice has loaded: its first showing keeps it; a later load
        over the same connection (the person moved on in the app) drops it. A new
        connection (a reconnect, a reload) keeps it: a warning must not vanish unread.
        True when this tab's last page load was on another connection."""
        reconnected = self._loaded_sid not in ("", self._sid())
        self._loaded_sid = self._sid()
        if not self._notice_fresh and not reconnected:
            self.notice = ""
        self._notice_fresh = False
        return reconnected

    @rx.event
    async def route_by_session(self) -> rx.event.EventSpec:
        """on_load of `/`: the profile when signed in, the code step when only the password
        step is done (the logo links here from every page), else the login page."""
        if not isinstance(await self._as_user(lambda _db, _signed_in: True), SignedOut):
            return rx.redirect(routes.PROFILE, replace=True)
        if not isinstance(await self._as_pending(lambda _db, _pending: True), SignedOut):
            return rx.redirect(routes.PASSCODE, replace=True)
        return rx.redirect(routes.LOGIN, replace=True)

    @rx.event
    async def logout(self) -> list[rx.event.EventSpec]:
        """Revoke the session server-side, forget it in the browser, go to the login page."""
        proof = self._proof()
        digest = proof.session_digest if proof else ""

        def revoke(db: Session) -> None:
            now = utcnow()
            user_id = sessions.revoke_session_by_digest(db, digest, now=now)
            if user_id is not None:
                audit.record(db, audit.Event.SIGN_OUT, now=now, user_id=user_id)
                db.commit()

        if digest:
            await run_db(revoke, where=self._origin())
            approval_hub.nudge()  # this browser's other tabs here follow at once
        self._forget_user()
        self._pending_digest = ""
        return [browser_tokens.forget(), rx.redirect(routes.LOGIN, replace=True)]


def begin_session(
    db: Session,
    user_id: int,
    device: str,
    *,
    epoch: int,
    second_factor: bool = False,
    own_code_throttle: bool | None = None,
) -> str:
    """Start a full session for a user who passed every factor (in a worker thread), and
    remember this browser as one of the account's devices; return the token.

    `epoch`: the account's credential epoch when its factors were read, before they were
    checked (the pending login's, or the user's as loaded for the check): if the
    credentials changed since, the session is dead from the start.

    `own_code_throttle`: whether the browser gets a code throttle of its own (see
    `devices`); by default when it entered a second factor itself. A sign-in approved
    from another session proves nothing of this browser: whoever holds one session could
    otherwise mint browsers, each with a guessing cap of its own.
    """
    now = utcnow()
    user = db.get(User, user_id)
    own = second_factor if own_code_throttle is None else own_code_throttle
    devices.remember(db, user_id, device, now=now, second_factor=own)
    token = sessions.start_session(db, user, now=now, second_factor=second_factor, epoch=epoch)
    audit.record(db, audit.Event.SIGN_IN_OK, now=now, user_id=user.id, email=user.email)
    db.commit()
    return token
