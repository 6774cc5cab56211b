"""CSV export of the dashboard's view: the table's rows, in its order, safe for spreadsheets."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.models import BackupCode, Passkey, User
from rxapp.services import users_export
from rxapp.services.users_query import SortKey, StatusFilter, fetch_page

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$constant-export-hash"
TOTP_SECRET = "gAAAAAB-encrypted-secret-that-must-not-be-exported"
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
FORMULA_EMAILS = [
    "=hyperlink(1)@example.com",
    "+1-555@example.com",
    "-2+3@example.com",
    "@sum(a1)@example.com",
    "=cmd|' /c calc'!a0@example.com",
]


def user_values(
    email: str, i: int, *, activated: bool, signed_in: bool, is_admin: bool = False
) -> dict:
    created = NOW - timedelta(days=i % 7, minutes=i)
    return {
        "email": email,
        "password_hash": PASSWORD_HASH,
        "is_admin": is_admin,
        "created_at": created,
        "last_sign_in_at": NOW - timedelta(hours=i % 5) if signed_in else None,
        "totp_secret": TOTP_SECRET if activated else None,
        "totp_enabled_at": created + timedelta(minutes=30) if activated else None,
        "twofa_active": activated,
    }


@pytest.fixture
def users(db: Session) -> list[User]:
    """A mix of plain and formula-looking emails, with and without 2FA and backup codes."""
    emails = [f"{n}.{i}@example.com" for i, n in enumerate(["ann", "bob", "eve", "li"] * 6)]
    emails += [*FORMULA_EMAILS, "a=b@example.com", "plain-dash@example.com", "zoë@example.com"]
    rows = [
        user_values(e, i, activated=i % 3 == 0, signed_in=i % 4 != 0, is_admin=i % 11 == 0)
        for i, e in enumerate(emails)
    ]
    db.exec(sa.insert(User), params=rows)
    db.commit()
    stored = list(db.exec(select(User)).all())
    codes = [
        {
            "user_id": u.id,
            "code_hash": f"h{u.id}-{n}",
            "created_at": NOW,
            "used_at": NOW if n < 2 else None,
        }
        for u in stored
        if u.totp_enabled_at
        for n in range(5)
    ]
    db.exec(sa.insert(BackupCode), params=codes)
    db.commit()
    return stored


def export(db: Session, **view) -> str:
    options = {
        "status": StatusFilter.ALL,
        "search": "",
        "sort": SortKey.EMAIL,
        "descending": False,
    } | view
    return "".join(users_export.csv_lines(db, **options))


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def expected_record(user: User, unused_codes: int) -> list[str]:
    email = "'" + user.email if user.email[0] in "=+-@" else user.email
    return [
        email,
        "Activated" if user.totp_enabled_at else "Not activated",
        iso(user.totp_enabled_at),
        iso(user.created_at),
        iso(user.last_sign_in_at),
        str(unused_codes),
        "yes" if user.is_admin else "no",
        "0",
    ]


def view_order(db: Session, **view) -> list[int]:
    """The user ids the dashboard shows for this view, across all its pages."""
    first = fetch_page(db, **view)
    ids = [r.id for r in first.rows]
    for number in range(2, first.pages + 1):
        ids += [r.id for r in fetch_page(db, page=number, **view).rows]
    return ids


def test_the_first_line_is_the_header(db, users):
    assert users_export.HEADER == HEADER
    assert parse(export(db))[0] == HEADER
    assert export(db).startswith(",".join(HEADER) + "\r\n")


@pytest.mark.both_databases
@pytest.mark.parametrize(
    "view",
    [
        {},
        {"sort": SortKey.EMAIL, "descending": True},
        {"sort": SortKey.CREATED},
        {"sort": SortKey.LAST_SIGN_IN, "descending": True},
        {"status": StatusFilter.ACTIVATED, "sort": SortKey.CREATED, "descending": True},
        {"status": StatusFilter.NOT_ACTIVATED, "search": "ann"},
        {"search": "nobody"},
    ],
    ids=lambda view: "-".join(str(v) for v in view.values()) or "default",
)
def test_the_csv_parses_back_to_exactly_the_rows_of_the_view(db, users, view):
    by_id = {u.id: u for u in users}
    unused = {u.id: (3 if u.totp_enabled_at else 0) for u in users}
    records = parse(export(db, **view))
    assert records[0] == HEADER
    expected = [expected_record(by_id[i], unused[i]) for i in view_order(db, **view)]
    assert records[1:] == expected


def test_every_user_is_exported_once(db, users):
    records = parse(export(db))[1:]
    assert len(records) == len(users)
    assert sorted(r[0].removeprefix("'") for r in records) == sorted(u.email for u in users)


@pytest.mark.parametrize("email", FORMULA_EMAILS)
def test_formula_looking_cells_are_prefixed_with_a_quote(db, users, email):
    cells = [record[0] for record in parse(export(db))[1:]]
    assert "'" + email in cells
    assert email not in cells


def test_no_cell_of_the_export_starts_a_formula(db, users):
    for record in parse(export(db))[1:]:
        for cell in record:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), record


def test_ordinary_cells_are_not_prefixed(db, users):
    cells = [record[0] for record in parse(export(db))[1:]]
    for email in [
        "ann.0@example.com",
        "a=b@example.com",
        "plain-dash@example.com",
        "zoë@example.com",
    ]:
        assert email in cells


@pytest.mark.both_databases
def test_each_streamed_chunk_is_one_whole_record(db, users):
    chunks = list(
        users_export.csv_lines(
            db, status=StatusFilter.ALL, search="", sort=SortKey.EMAIL, descending=False
        )
    )
    assert len(chunks) == len(users) + 1
    for chunk in chunks:
        assert chunk.endswith("\r\n")
        assert len(parse(chunk)) == 1


def test_an_empty_view_exports_only_the_header(db, users):
    assert parse(export(db, search="nobody-at-all")) == [HEADER]


def test_the_export_holds_no_secret_or_hash(db, users):
    text = export(db)
    assert TOTP_SECRET not in text
    assert PASSWORD_HASH not in text
    assert "h1-0" not in text  # backup code hashes


def test_passkeys_are_counted_and_date_a_passkey_only_account(db, users):
    plain = next(u for u in users if not u.totp_enabled_at and u.email[0].isalpha())
    plain.twofa_active = True
    db.add(plain)
    for n in range(2):
        db.add(
            Passkey(
                user_id=plain.id,
                credential_id=f"cred-{n}",
                public_key="AA",
                name=f"Key {n}",
                created_at=NOW + timedelta(minutes=n),
            )
        )
    db.commit()
    record = next(r for r in parse(export(db))[1:] if r[0] == plain.email)
    assert record[1:3] == ["Activated", iso(NOW)]
    assert record[HEADER.index("passkeys")] == "2"
