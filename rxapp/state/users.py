"""UsersState: the admin "All users" dashboard. Every handler re-checks the admin role."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import TypedDict

import reflex as rx
from sqlmodel import Session, col, func, select

from rxapp import routes
from rxapp.api import EXPORT_PATH, EXPORT_PURPOSE
from rxapp.models import AuditEvent, User
from rxapp.services import admin, audit, reauth, sessions, signed_links, users_query
from rxapp.services.clock import utcnow
from rxapp.services.sessions import SignedIn
from rxapp.services.users_query import QueryError, SortKey, StatusFilter
from rxapp.state.auth import AuthState, db_session

LIVE_REFRESH_SECONDS = 2.0
View = tuple[str, str, str, bool, int]  # filter, search, sort, descending, page
EXPORT_LINK_SECONDS = 60


class Row(TypedDict):
    """A table row as the browser sees it: text only, no secrets."""

    id: int
    email: str
    status: str
    enabled: str
    created: str
    last_sign_in: str
    backup_codes: int
    admin: bool


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _to_row(row: users_query.UserRow) -> Row:
    return Row(
        id=row.id,
        email=row.email,
        status=users_query.status_label(row.activated),
        enabled=_when(row.enabled_at),
        created=_when(row.created_at),
        last_sign_in=_when(row.last_sign_in_at),
        backup_codes=row.backup_codes_left,
        admin=row.is_admin,
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

    reset_open: bool = False
    reset_email: str = ""
    reset_message: str = ""
    # Resetting someone's 2FA needs a proof from the last 5 minutes, like the user's own
    # sensitive actions: the password, or a code if the admin has 2FA.
    reset_needs_proof: bool = False
    reset_proof_is_code: bool = False
    reset_error: str = ""
    _reset_user_id: int | None = None

    _last_audit_id: int = 0
    # Renewed by the running watcher every round; one lost with a crashed process lapses.
    _watch_lease: float = 0.0

    @rx.var
    def total_text(self) -> str:
        """The number of matching users, with thousands separators."""
        return f"{self.total:,}"

    @rx.var
    def activated_text(self) -> str:
        """Matching users with 2FA, with thousands separators."""
        return f"{self.activated:,}"

    @rx.var
    def not_activated_text(self) -> str:
        """Matching users without 2FA, with thousands separators."""
        return f"{self.not_activated:,}"

    # --- helpers --------------------------------------------------------------------------

    def _admin(self, db: Session) -> SignedIn | None:
        signed_in = self._signed_in(db)
        if signed_in is None or not signed_in.user.is_admin:
            return None
        return signed_in

    def _refuse(self, db: Session) -> rx.event.EventSpec:
        """Send a visitor who is not an admin away, with a reason."""
        self.rows = []
        self.reset_open = False
        self._reset_user_id = None
        if self._signed_in(db) is None:
            self._forget_session()
            return rx.redirect(routes.LOGIN, replace=True)
        self.notice = "Only admins can see All users."
        return rx.redirect(routes.PROFILE, replace=True)

    def _view(self) -> View:
        return (self.status_filter, self.search, self.sort, self.descending, self.page)

    def _show(self, result: users_query.UsersPage) -> None:
        self.rows = [_to_row(row) for row in result.rows]
        self.total = result.total
        self.activated = result.activated
        self.not_activated = result.not_activated
        self.page = result.page
        self.pages = result.pages

    def _load(self, db: Session) -> None:
        self._show(_fetch(db, self._view()))
        self._last_audit_id = _latest_audit_id(db)

    def _sync_url(self) -> rx.event.EventSpec:
        query = f"?twofa={self.status_filter}" if self.status_filter != StatusFilter.ALL else ""
        url = json.dumps(routes.USERS + query)
        return rx.call_script(f"window.history.replaceState(null, '', {url})")

    # --- page -----------------------------------------------------------------------------

    @rx.event
    def open_users(self) -> list[rx.event.EventSpec] | rx.event.EventSpec | None:
        """on_load: admins only; the filter comes from `?twofa=`."""
        with db_session() as db:
            if self._admin(db) is None:
                return self._refuse(db)
            raw = self.router.url.query_parameters.get("twofa")
            try:
                self.status_filter = users_query.parse_filter(raw).value
                self.filter_notice = ""
            except QueryError as error:
                self.status_filter = StatusFilter.ALL.value
                self.filter_notice = f"{error} Showing all users."
            self.search = ""
            self.page = 1
            self.reset_open = False
            self._load(db)
        return [self._sync_url(), UsersState.watch_for_changes]

    @rx.event
    def set_status_filter(self, value: str = "") -> rx.event.EventSpec | None:
        """The 2FA filter; mirrored in the URL."""
        with db_session() as db:
            if self._admin(db) is None:
                return self._refuse(db)
            try:
                self.status_filter = users_query.parse_filter(value).value
                self.filter_notice = ""
            except QueryError as error:
                self.filter_notice = f"{error} The filter was not changed."
                return None
            self.page = 1
            self._load(db)
        return self._sync_url()

    @rx.event
    def set_search(self, value: str = "") -> rx.event.EventSpec | None:
        """Search by the start of the email (the input is debounced)."""
        with db_session() as db:
            if self._admin(db) is None:
                return self._refuse(db)
            self.search = users_query.normalize_search(value)
            self.page = 1
            self._load(db)
        return None

    @rx.event
    def sort_by(self, key: str = "") -> rx.event.EventSpec | None:
        """Sort by a column; again on the same column reverses the order."""
        with db_session() as db:
            if self._admin(db) is None:
                return self._refuse(db)
            try:
                chosen = users_query.parse_sort(key).value
            except QueryError:
                return None
            self.descending = not self.descending if chosen == self.sort else False
            self.sort = chosen
            self.page = 1
            self._load(db)
        return None

    @rx.event
    def next_page(self) -> rx.event.EventSpec | None:
        """The next page of results."""
        return self._go_to(self.page + 1)

    @rx.event
    def previous_page(self) -> rx.event.EventSpec | None:
        """The previous page of results."""
        return self._go_to(self.page - 1)

    def _go_to(self, page: int) -> rx.event.EventSpec | None:
        with db_session() as db:
            if self._admin(db) is None:
                return self._refuse(db)
            self.page = max(1, min(page, self.pages))
            self._load(db)
        return None

    # --- reset ----------------------------------------------------------------------------

    @rx.event
    def ask_reset(self, user_id: int = 0) -> rx.event.EventSpec | None:
        """Open the confirmation for resetting one user's 2FA."""
        with db_session() as db:
            signed_in = self._admin(db)
            if signed_in is None:
                return self._refuse(db)
            target = db.get(User, user_id) if isinstance(user_id, int) else None
            if target is None:
                self.reset_message = "That user no longer exists."
                return None
            self._reset_user_id = target.id
            self.reset_email = target.email
            self.reset_message = ""
            self.reset_error = ""
            self._ask_proof_if_needed(signed_in)
            self.reset_open = True
        return None

    def _ask_proof_if_needed(self, signed_in: SignedIn) -> None:
        self.reset_needs_proof = not sessions.has_fresh_proof(signed_in, now=utcnow())
        self.reset_proof_is_code = reauth.asks_for_code(signed_in)

    @rx.event
    def confirm_reset(self, form: dict | None = None) -> rx.event.EventSpec | None:
        """Reset the chosen user's 2FA (secret and backup codes deleted, sessions ended,
        audited), after a fresh proof when the admin's last one is over 5 minutes old."""
        proof = form.get("proof") if isinstance(form, dict) else None
        with db_session() as db:
            signed_in = self._admin(db)
            if signed_in is None:
                return self._refuse(db)
            if self._reset_user_id is None:
                self.reset_open = False
                return None
            fresh = sessions.has_fresh_proof(signed_in, now=utcnow())
            if not fresh and (problem := reauth.prove(db, signed_in, proof, now=utcnow())):
                self._ask_proof_if_needed(signed_in)
                self.reset_error = problem
                return rx.set_value("reauth-input", "")
            user = admin.reset_2fa(
                db, self._reset_user_id, now=utcnow(), actor_id=signed_in.user.id, via="dashboard"
            )
            self.reset_open = False
            self._reset_user_id = None
            self.reset_message = (
                f"Two-factor authentication was reset for {user.email}." if user else ""
            )
            self._load(db)
        return rx.toast(self.reset_message) if self.reset_message else None

    @rx.event
    def cancel_reset(self, _open: object = False) -> None:
        """Close the confirmation without changing anything."""
        self.reset_open = False
        self._reset_user_id = None

    # --- export ---------------------------------------------------------------------------

    @rx.event
    def export_csv(self) -> rx.event.EventSpec | None:
        """Download the current filtered, searched and sorted view as CSV."""
        with db_session() as db:
            signed_in = self._admin(db)
            if signed_in is None:
                return self._refuse(db)
            token = signed_links.sign(
                EXPORT_PURPOSE,
                {
                    "admin": signed_in.user.id,
                    "session": signed_in.session.id,
                    "twofa": self.status_filter,
                    "q": self.search,
                    "sort": self.sort,
                    "desc": self.descending,
                },
                now=utcnow(),
                ttl_seconds=EXPORT_LINK_SECONDS,
            )
        return rx.download(url=f"{EXPORT_PATH}?token={token}")

    # --- live updates ---------------------------------------------------------------------

    @rx.event(background=True)
    async def watch_for_changes(self) -> None:
        """While an admin has the page open, reload it when any account changes."""
        async with self:
            if self._watch_lease > time.time():
                return
            self._watch_lease = time.time() + LIVE_REFRESH_SECONDS * 3
        try:
            while True:
                await asyncio.sleep(LIVE_REFRESH_SECONDS)
                async with self:
                    if self.router.url.path.rstrip("/") != routes.USERS:
                        return
                    token, last_seen = self.session_token, self._last_audit_id
                    view = self._view()
                    self._watch_lease = time.time() + LIVE_REFRESH_SECONDS * 3
                still_admin, latest = await asyncio.to_thread(_admin_and_latest, token)
                if not still_admin:
                    return
                if latest == last_seen:
                    continue
                result = await asyncio.to_thread(_fetch_in_own_session, view)
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


def _admin_and_latest(token: str) -> tuple[bool, int]:
    """Whether `token` is still an admin's live session (without extending it), and the
    newest audit event id."""
    with rx.session() as db:
        signed_in = sessions.current_session(db, token, now=utcnow(), touch=False)
        if signed_in is None or not signed_in.user.is_admin:
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


def _fetch_in_own_session(view: View) -> users_query.UsersPage:
    with rx.session() as db:
        return _fetch(db, view)
