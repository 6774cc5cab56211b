"""The admin "All users" query: filter, search, sort, page and count, all in SQL.

Only the requested page of rows leaves the database. Emails are stored lower-cased, so an
email prefix search is an index range scan (`email >= p AND email < p + U+10FFFF`) on every
database, without LIKE and its collation rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from rxapp.models import BackupCode, Passkey, User, UserTally
from rxapp.services import policy

PAGE_SIZE = 50
MAX_SEARCH = 254


class StatusFilter(StrEnum):
    """The 2FA filter, as it appears in the URL (`/users?twofa=...`)."""

    ALL = "all"
    ACTIVATED = "activated"
    NOT_ACTIVATED = "not_activated"
    REQUIRED = "required"
    """Accounts the 2FA policy asks to use it, that have not turned it on."""
    HAS_PASSKEY = "has_passkey"
    """Accounts with at least one passkey."""


class SortKey(StrEnum):
    """Columns the table can be sorted by."""

    EMAIL = "email"
    CREATED = "created"
    LAST_SIGN_IN = "last_sign_in"


class QueryError(ValueError):
    """A filter, sort or page value outside the allowed set; the message is for people."""


@dataclass(frozen=True)
class UserRow:
    """One table row: no secret, hash or code."""

    id: int
    email: str
    activated: bool
    enabled_at: datetime | None
    """Since when the account has had its oldest second factor still in place."""
    created_at: datetime
    last_sign_in_at: datetime | None
    backup_codes_left: int
    is_admin: bool
    required_by: datetime | None = None
    """When the 2FA policy starts insisting, for an account without 2FA it applies to."""
    passkeys: int = 0


@dataclass(frozen=True)
class UsersPage:
    """A page of rows and the counts of everything matching the search."""

    rows: list[UserRow]
    page: int
    total: int
    activated: int
    not_activated: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // PAGE_SIZE))


def status_label(activated: bool) -> str:
    """The 2FA status as people read it (and as the stable interface shows it)."""
    return "Activated" if activated else "Not activated"


def parse_filter(raw: object) -> StatusFilter:
    """The filter named by `raw` in any case (absent or empty: all), or QueryError."""
    if raw is None or raw == "":
        return StatusFilter.ALL
    try:
        return StatusFilter(str(raw).strip().lower())
    except ValueError:
        raise QueryError(f"Unknown 2FA filter {str(raw)[:40]!r}.") from None


def parse_sort(raw: object) -> SortKey:
    """The sort key named by `raw`, or QueryError."""
    try:
        return SortKey(str(raw))
    except ValueError:
        raise QueryError("Unknown sort order.") from None


def normalize_search(raw: object) -> str:
    """The search text: trimmed, lower-cased, at most MAX_SEARCH characters."""
    if not isinstance(raw, str):
        return ""
    return raw.strip().lower()[:MAX_SEARCH]


def _search_clause(db: Session, search: str) -> sa.ColumnElement[bool] | None:
    if not search:
        return None
    email: sa.ColumnElement[str] = col(User.email)
    if db.get_bind().dialect.name == "postgresql":
        # Code-point order, as on SQLite: a locale's collation would let "jo" match "jö...".
        email = sa.collate(email, "C")
    return sa.and_(email >= search, email < search + "\U0010ffff")


def _status_clause(status: StatusFilter) -> sa.ColumnElement[bool] | None:
    if status is StatusFilter.ALL:
        return None
    if status is StatusFilter.HAS_PASSKEY:
        return select(Passkey.id).where(col(Passkey.user_id) == User.id).exists()
    if status is StatusFilter.REQUIRED:
        required = policy.required_clause()
        if required is None:
            return sa.false()
        return sa.and_(col(User.twofa_active).is_(False), required)
    return col(User.twofa_active) == (status is StatusFilter.ACTIVATED)


def _count(db: Session, *clauses: sa.ColumnElement[bool] | None) -> int:
    query = select(func.count()).select_from(User)
    for clause in clauses:
        if clause is not None:
            query = query.where(clause)
    return db.exec(query).one()


def counts(db: Session, search: str) -> tuple[int, int]:
    """(activated, not activated) among users matching `search` (everyone: the tally)."""
    if not search:
        tally = db.exec(select(UserTally.activated, UserTally.not_activated)).first()
        return (tally[0], tally[1]) if tally else (0, 0)
    where = _search_clause(db, search)
    total = _count(db, where)
    activated = _count(db, where, _status_clause(StatusFilter.ACTIVATED))
    return activated, total - activated


def fetch_page(
    db: Session,
    *,
    status: StatusFilter = StatusFilter.ALL,
    search: str = "",
    sort: SortKey = SortKey.EMAIL,
    descending: bool = False,
    page: int = 1,
) -> UsersPage:
    """One page of users matching the filter and search, with the counts."""
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise QueryError("Page numbers start at 1.")
    activated, not_activated = counts(db, search)
    if status in (StatusFilter.REQUIRED, StatusFilter.HAS_PASSKEY):
        total = _count(db, _search_clause(db, search), _status_clause(status))
    else:
        total = {
            StatusFilter.ALL: activated + not_activated,
            StatusFilter.ACTIVATED: activated,
            StatusFilter.NOT_ACTIVATED: not_activated,
        }[status]
    page = min(page, max(1, -(-total // PAGE_SIZE)))

    query = _rows_query(db, status=status, search=search, sort=sort, descending=descending)
    query = query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    rows = [_row(values) for values in db.exec(query).all()]
    return UsersPage(
        rows=rows, page=page, total=total, activated=activated, not_activated=not_activated
    )


def iter_rows(
    db: Session,
    *,
    status: StatusFilter = StatusFilter.ALL,
    search: str = "",
    sort: SortKey = SortKey.EMAIL,
    descending: bool = False,
    batch: int = 1000,
) -> Iterator[UserRow]:
    """Every row matching the view, in order, fetched `batch` rows at a time (for exports)."""
    query = _rows_query(db, status=status, search=search, sort=sort, descending=descending)
    result = db.exec(query.execution_options(yield_per=batch))
    for values in result:
        yield _row(values)


def _row(values: sa.Row) -> UserRow:
    return UserRow(
        id=values[0],
        email=values[1],
        activated=bool(values[7]),
        enabled_at=min((t for t in (values[2], values[9]) if t is not None), default=None),
        created_at=values[3],
        last_sign_in_at=values[4],
        is_admin=values[5],
        backup_codes_left=values[6],
        required_by=policy.deadline(is_admin=values[5], created_at=values[3])
        if not values[7]
        else None,
        passkeys=values[8],
    )


def _rows_query(
    db: Session, *, status: StatusFilter, search: str, sort: SortKey, descending: bool
) -> sa.Select:
    sort_column = {
        SortKey.EMAIL: col(User.email),
        SortKey.CREATED: col(User.created_at),
        SortKey.LAST_SIGN_IN: col(User.last_sign_in_at),
    }[sort]
    if sort is SortKey.LAST_SIGN_IN:
        # "Never signed in" sorts as the oldest on every database (their NULL defaults differ).
        order = [sort_column.desc().nulls_last() if descending else sort_column.asc().nulls_first()]
    else:
        # Never NULL: no NULLS FIRST/LAST, which would keep PostgreSQL from walking the index.
        order = [sort_column.desc() if descending else sort_column.asc()]
    if sort is not SortKey.EMAIL:
        order.append(col(User.id).desc() if descending else col(User.id).asc())

    unused_codes = (
        select(func.count())
        .select_from(BackupCode)
        .where(col(BackupCode.user_id) == User.id, col(BackupCode.used_at).is_(None))
        .scalar_subquery()
    )
    passkeys = (
        select(func.count())
        .select_from(Passkey)
        .where(col(Passkey.user_id) == User.id)
        .scalar_subquery()
    )
    first_passkey = (
        select(func.min(Passkey.created_at))
        .where(col(Passkey.user_id) == User.id)
        .scalar_subquery()
    )
    query = select(
        User.id,
        User.email,
        User.totp_enabled_at,
        User.created_at,
        User.last_sign_in_at,
        User.is_admin,
        unused_codes,
        User.twofa_active,
        passkeys,
        first_passkey,
    )
    for clause in (_search_clause(db, search), _status_clause(status)):
        if clause is not None:
            query = query.where(clause)
    return query.order_by(*order)
