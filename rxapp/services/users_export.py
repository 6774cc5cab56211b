"""CSV export of the admin dashboard's current view, streamed row by row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from sqlmodel import Session

from rxapp.services import users_query

HEADER = [
    "email",
    "2fa_status",
    "2fa_enabled_at",
    "created_at",
    "last_sign_in_at",
    "unused_backup_codes",
    "admin",
    "passkeys",
]


def _cell(value: object) -> str:
    """A CSV cell that spreadsheets will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(
    db: Session,
    *,
    status: users_query.StatusFilter,
    search: str,
    sort: users_query.SortKey,
    descending: bool,
) -> Iterator[str]:
    """The header, then one CSV line per matching user, in the table's order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(c) for c in cells])
        return buffer.getvalue()

    yield line(HEADER)
    for row in users_query.iter_rows(
        db, status=status, search=search, sort=sort, descending=descending
    ):
        yield line(
            [
                row.email,
                users_query.status_label(row.activated),
                row.enabled_at,
                row.created_at,
                row.last_sign_in_at,
                row.backup_codes_left,
                "yes" if row.is_admin else "no",
                row.passkeys,
            ]
        )
