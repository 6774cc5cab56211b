"""UsersState: the admin "All users" dashboard. Every handler re-checks the admin role."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypedDict, TypeVar
from urllib.parse import urlencode

import reflex as rx
from sqlmodel import Session, col, func, select

from rxapp import routes
from rxapp.api import EXPORT_PATH, EXPORT_PURPOSE
from rxapp.models import AuditEvent, User
from rxapp.services import (
    admin,
    audit,
    policy,
    reauth,
    sessions,
    signed_links,
    throttle,
    users_query,
)
from rxapp.services.clock import utcnow
from rxapp.services.sessions import SignedIn
from rxapp.services.users_query import QueryError, SortKey, StatusFilter
from rxapp.state.approvals import ApprovalState
from rxapp.state.auth import AuthState, SignedOut
from rxapp.state.display import iso_time
from rxapp.state.offloop import run_db
from rxapp.whole_numbers import parse_whole

T = TypeVar("T")
LIVE_REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class _NotAllowed:
    """Why a signed-in visitor may not use the dashboard."""

    reason: str


@dataclass(frozen=True)
class Refusal:
    """A dashboard event refused: where to send the visitor instead."""

    events: list[rx.event.EventSpec]


View = tuple[str, str, str, bool, int]  # filter, search, sort, descending, page
EXPORT_LINK_SECONDS = 60
NO_SUCH_USER = "That user no longer exists."


class Row(TypedDict):
    """A table row as the browser sees it: text only, no secrets."""

    id: int
    email: str
    status: str
    enabled: str
    created: str
    last_sign_in: str
    backup_codes: int
    passkeys: int
    admin: bool
    required_by: str
    me: bool


def _to_row(row: users_query.UserRow, *, me: int | None) -> Row:
    """Times as ISO 8601 UTC: the browser shows them in the reader's time zone."""
    return Row(
        id=row.id,
        email=row.email,
        status=users_query.status_label(row.activated),
        enabled=iso_time(row.enabled_at),
        created=iso_time(row.created_at),
        last_sign_in=iso_time(row.last_sign_in_at),
        backup_codes=row.backup_codes_left,
        passkeys=row.passkeys,
        admin=row.is_admin,
        required_by=iso_time(row.required_by),
        me=row.id == me,
    )


class UsersState(AuthState):
    """Filter, search, sort and page through every user's 2FA status."""

    rows: list[Row] = []
    total: int = 0
    activated: int = 0
    not_activated: int = 0
    page: int = 1
    pages: int = 1
    status_filter: str = StatusFilter.ALL.value
    search: str = ""
    sort: str = SortKey.EMAIL.value
    descending: bool = False
    filter_notice: str = ""
    loading: bool = False
    # True once the first page of results has arrived: until then a loading state, never
    # "0 matching users" as if it were data.
    users_loaded: bool = False
    # The signed-in admin (their own row offers no reset).
    _admin_id: int | None = None

    reset_open: bool = False
    reset_email: str = ""
    # Resetting someone's 2FA needs a proof from the last 5 minutes, like the user's own
    # sensitive actions: the password, or a code if the admin has 2FA.
    reset_needs_proof: bool = False
    reset_proof_is_code: bool = False
    reset_error: str = ""
    # The wait `reset_error` tells of, counted down on screen (0: none).
    reset_wait_seconds: int = 0
    # Submissions of the reset form answered: its button is busy until this changes.
    reset_answers: int = 0
    _reset_user_id: int | None = None

    _last_audit_id: int = 0
    # Renewed by the running watcher every round; one lost with a crashed process lapses.
    _watch_lease: float = 0.0

    @rx.var
    def total_text(self) -> str:
        """The number of matching users, with thousands separators."""
        return f"{self.total:,}"

    @rx.var
    def matching_label(self) -> str:
        """`matching user` or `matching users`, after the count."""
        return "matching user" if self.total == 1 else "matching users"

    @rx.var
    def activated_text(self) -> str:
        """Matching users with 2FA, with thousands separators."""
        return f"{self.activated:,}"

    @rx.var
    def not_activated_text(self) -> str:
        """Matching users without 2FA, with thousands separators."""
        return f"{self.not_activated:,}"

    # --- helpers --------------------------------------------------------------------------

    async def _as_admin(
        self, work: Callable[[Session, SignedIn], T], *, heavy: bool = False, touch: bool = True
    ) -> T | Refusal:
        """Run `work(db, signed_in)` off the loop for this connection's admin session; else
        clear the page and return where to send the visitor. `touch`: as for `_as_user`."""

        def as_admin(db: Session, signed_in: SignedIn) -> T | _NotAllowed:
            if not signed_in.user.is_admin:
                return _NotAllowed("Only admins can see All users.")
            if not policy.may_use_dashboard(signed_in.user):
                return _NotAllowed(
                    "All users is open to admins with two-factor authentication only. "
                    "Turn it on here to continue."
                )
            return work(db, signed_in)

        outcome = await self._as_user(as_admin, heavy=heavy, touch=touch)
        if isinstance(outcome, SignedOut | _NotAllowed):
            self.rows = []
            self.users_loaded = False
            self.reset_open = False
            self._reset_user_id = None
            if isinstance(outcome, SignedOut):
                return Refusal(self._to_login())
            self._tell(outcome.reason)
            return Refusal([rx.redirect(routes.PROFILE, replace=True)])
        return outcome

    def _view(self) -> View:
        return (self.status_filter, self.search, self.sort, self.descending, self.page)

    def _show(self, result: users_query.UsersPage) -> None:
        self.rows = [_to_row(row, me=self._admin_id) for row in result.rows]
        self.users_loaded = True
        self.total = result.total
        self.activated = result.activated
        self.not_activated = result.not_activated
        self.page = result.page
        self.pages = result.pages

    async def _reload(self) -> list[rx.event.EventSpec] | None:
        """Fetch the current view (admins only); None when shown, else where to go."""
        view = self._view()
        loaded = await self._as_admin(
            lambda db, admin_: (_fetch(db, view), _latest_audit_id(db), admin_.user)
        )
        if isinstance(loaded, Refusal):
            return loaded.events
        self._admin_id = loaded[2].id
        self._show_user(loaded[2])  # the header, also when /users is the tab's first page
        self._show(loaded[0])
        self._last_audit_id = loaded[1]
        return None

    def _sync_url(self) -> rx.event.EventSpec:
        """The view in the address (only what differs from the defaults), so that a reload or
        a shared link shows the same users."""
        params = {
            "twofa": self.status_filter if self.status_filter != StatusFilter.ALL else "",
            "q": self.search,
            "sort": self.sort if self.sort != SortKey.EMAIL.value else "",
            "desc": "1" if self.descending else "",
            "page": str(self.page) if self.page > 1 else "",
        }
        query = urlencode({name: value for name, value in params.items() if value})
        url = json.dumps(routes.USERS + (f"?{query}" if query else ""))
        return rx.call_script(f"window.history.replaceState(null, '', {url})")

    def _read_url(self) -> None:
        """The view the address names (`_sync_url`); what it gets wrong is left at the
        default, and a wrong filter is said."""
        given = self.router.url.query_parameters
        try:
            self.status_filter = users_query.parse_filter(given.get("twofa")).value
            self.filter_notice = ""
        except QueryError as error:
            self.status_filter = StatusFilter.ALL.value
            self.filter_notice = f"{error} Showing all users."
        self.search = users_query.normalize_search(given.get("q"))
        try:
            self.sort = users_query.parse_sort(given.get("sort") or SortKey.EMAIL.value).value
        except QueryError:
            self.sort = SortKey.EMAIL.value
        self.descending = given.get("desc") == "1"
        self.page = parse_whole(given.get("page"), max_digits=9) or 1  # past the end: the last

    # --- page -----------------------------------------------------------------------------

    @rx.event
    async def open_users(self) -> list[rx.event.EventSpec] | None:
        """on_load: admins only; the view (filter, search, sort, page) comes from the
        address."""
        self._read_url()
        self.reset_open = False
        if refused := await self._reload():
            return refused
        # The search box is the browser's own (debounced, uncontrolled): given its text.
        return [
            self._sync_url(),
            rx.set_value("users-search", self.search),
            UsersState.watch_for_changes,
            ApprovalState.watch,
        ]

    @rx.event
    async def set_status_filter(self, value: str) -> list[rx.event.EventSpec] | None:
        """The 2FA filter; mirrored in the URL."""
        try:
            chosen = users_query.parse_filter(value).value
        except QueryError as error:
            self.filter_notice = f"{error} The filter was not changed."
            return None
        previous = self.status_filter
        self.status_filter, self.filter_notice, self.page = chosen, "", 1
        if refused := await self._reload():
            self.status_filter = previous
            return refused
        return [self._sync_url()]

    async def _reload_and_sync(self) -> list[rx.event.EventSpec]:
        """Show the view just chosen, and name it in the address."""
        return await self._reload() or [self._sync_url()]

    @rx.event
    async def set_search(self, value: str) -> list[rx.event.EventSpec] | None:
        """Search by the start of the email (the input is debounced)."""
        self.search = users_query.normalize_search(value)
        self.page = 1
        return await self._reload_and_sync()

    @rx.event
    async def sort_by(self, key: str) -> list[rx.event.EventSpec] | None:
        """Sort by a column; again on the same column reverses the order."""
        try:
            chosen = users_query.parse_sort(key).value
        except QueryError:
            return None
        self.descending = not self.descending if chosen == self.sort else False
        self.sort = chosen
        self.page = 1
        return await self._reload_and_sync()

    @rx.event
    async def next_page(self) -> list[rx.event.EventSpec] | None:
        """The next page of results."""
        self.page = min(self.page + 1, self.pages)
        return await self._reload_and_sync()

    @rx.event
    async def previous_page(self) -> list[rx.event.EventSpec] | None:
        """The previous page of results."""
        self.page = max(1, self.page - 1)
        return await self._reload_and_sync()

    # --- reset ----------------------------------------------------------------------------

    @rx.event
    async def ask_reset(self, user_id: int) -> list[rx.event.EventSpec] | None:
        """Open the confirmation for resetting one user's 2FA."""

        def find(db: Session, signed_in: SignedIn) -> tuple[User | None, bool, bool, bool]:
            target = db.get(User, user_id)
            fresh = sessions.has_fresh_proof(signed_in, now=utcnow())
            own = not admin.may_reset(signed_in.user.id, user_id)
            return target, fresh, reauth.asks_for_code(signed_in), own

        found = await self._as_admin(find)
        if isinstance(found, Refusal):
            return found.events
        target, fresh, proof_is_code, own = found
        if target is None:
            return [rx.toast.error(NO_SUCH_USER)]
        if own:
            return [rx.toast.error(admin.OWN_ACCOUNT)]
        self._reset_user_id = target.id
        self.reset_email = target.email
        self.reset_error, self.reset_wait_seconds = "", 0
        self.reset_needs_proof = not fresh
        self.reset_proof_is_code = proof_is_code
        self.reset_open = True
        return None

    @rx.event
    async def confirm_reset(self, form: dict) -> list[rx.event.EventSpec] | None:
        """Reset the chosen user's 2FA (secret and backup codes deleted, sessions ended,
        audited), after a fresh proof when the admin's last one is over 5 minutes old."""
        self.reset_answers += 1
        self.reset_wait_seconds = 0
        proof = form.get("proof")
        target_id = self._reset_user_id
        if target_id is None:
            self.reset_open = False
            return None
        view = self._view()
        device = self._proven_device()

        def reset(
            db: Session, signed_in: SignedIn
        ) -> tuple[throttle.Refusal | None, str, bool, Any]:
            now = utcnow()
            if not admin.may_reset(signed_in.user.id, target_id):
                return throttle.Refusal(admin.OWN_ACCOUNT), "", False, None
            fresh = sessions.has_fresh_proof(signed_in, now=now)
            problem = None if fresh else reauth.prove(db, signed_in, proof, now=now, device=device)
            if problem:
                return problem, "", reauth.asks_for_code(signed_in), None
            user = admin.reset_2fa(
                db, target_id, now=now, actor_id=signed_in.user.id, via="dashboard"
            )
            done = f"Two-factor authentication was reset for {user.email}." if user else ""
            return None, done, False, (_fetch(db, view), _latest_audit_id(db))

        result = await self._as_admin(reset, heavy=True)
        if isinstance(result, Refusal):
            return result.events
        problem, done, proof_is_code, loaded = result
        if problem:
            self.reset_needs_proof = True
            self.reset_proof_is_code = proof_is_code
            self.reset_error, self.reset_wait_seconds = problem.message, problem.wait_seconds
            return None
        self.reset_open = False
        self._reset_user_id = None
        self._show(loaded[0])
        self._last_audit_id = loaded[1]
        return [rx.toast(done) if done else rx.toast.error(NO_SUCH_USER)]

    @rx.event
    def cancel_reset(self, _open: object = False) -> None:
        """Close the confirmation without changing anything."""
        self.reset_open = False
        self._reset_user_id = None

    # --- export ---------------------------------------------------------------------------

    @rx.event
    async def export_csv(self) -> list[rx.event.EventSpec] | None:
        """Download the current filtered, searched and sorted view as CSV."""
        status, search, sort, descending, _page = self._view()

        def sign(_db: Session, signed_in: SignedIn) -> str:
            return signed_links.sign(
                EXPORT_PURPOSE,
                {
                    "admin": signed_in.user.id,
                    "session": signed_in.session.id,
                    "twofa": status,
                    "q": search,
                    "sort": sort,
                    "desc": descending,
                },
                now=utcnow(),
                ttl_seconds=EXPORT_LINK_SECONDS,
            )

        token = await self._as_admin(sign)
        if isinstance(token, Refusal):
            return token.events
        return [rx.download(url=f"{EXPORT_PATH}?token={token}")]

    # --- live updates ---------------------------------------------------------------------

    @rx.event(background=True)
    async def watch_for_changes(self) -> list[rx.event.EventSpec] | None:
        """While an admin has the page open, reload it when any account changes; once the
        session may no longer see it (signed out, 2FA turned off), clear it and say why."""
        async with self:
            if self._watch_lease > utcnow().timestamp():
                return
            self._watch_lease = utcnow().timestamp() + LIVE_REFRESH_SECONDS * 3
        try:
            while True:
                await asyncio.sleep(LIVE_REFRESH_SECONDS)
                async with self:
                    if self.router.url.path.rstrip("/") != routes.USERS:
                        return
                    proof = self._proof()
                    digest = proof.session_digest if proof else ""
                    last_seen = self._last_audit_id
                    view = self._view()
                    self._watch_lease = utcnow().timestamp() + LIVE_REFRESH_SECONDS * 3
                still_open, latest = await run_db(partial(dashboard_still_open, digest=digest))
                if not still_open:
                    async with self:  # the page's own check: it clears the rows, says why
                        # No activity of the admin's: the session is not extended.
                        refused = await self._as_admin(lambda _db, _s: None, touch=False)
                    return refused.events if isinstance(refused, Refusal) else None
                if latest == last_seen:
                    continue
                result = await run_db(partial(_fetch, view=view))
                async with self:
                    if self._view() != view:
                        continue  # the admin changed the view meanwhile; that reload is newer
                    self._show(result)
                    self._last_audit_id = latest
        finally:
            async with self:
                self._watch_lease = 0.0


# Events that change what the table shows; failed attempts (which an attack makes by the
# thousand) do not reload every admin's table.
TABLE_EVENTS = [
    audit.Event.USER_CREATED,
    audit.Event.SIGN_IN_OK,
    audit.Event.TWOFA_ENABLED,
    audit.Event.TWOFA_DISABLED,
    audit.Event.ADMIN_RESET_2FA,
    audit.Event.ADMIN_GRANTED,
    audit.Event.ADMIN_REMOVED,
    audit.Event.ACCOUNT_DELETED,
    audit.Event.BACKUP_CODE_USED,
    audit.Event.BACKUP_CODES_GENERATED,
]


def _latest_audit_id(db: Session) -> int:
    return (
        db.exec(
            select(func.max(AuditEvent.id)).where(
                col(AuditEvent.event).in_([e.value for e in TABLE_EVENTS])
            )
        ).one()
        or 0
    )


def dashboard_still_open(db: Session, digest: str) -> tuple[bool, int]:
    """Whether the session behind `digest` may still see All users (an admin's, with 2FA on;
    without extending it), and the newest audit event id."""
    signed_in = sessions.session_by_digest(db, digest, now=utcnow(), touch=False)
    if signed_in is None or not policy.may_use_dashboard(signed_in.user):
        return False, 0
    return True, _latest_audit_id(db)


def _fetch(db: Session, view: View) -> users_query.UsersPage:
    status, search, sort, descending, page = view
    return users_query.fetch_page(
        db,
        status=StatusFilter(status),
        search=search,
        sort=SortKey(sort),
        descending=descending,
        page=page,
    )
