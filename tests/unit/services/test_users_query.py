"""The admin "All users" query: parsing, counts, filter, search, sort and paging, in SQL.

Users are seeded with one bulk INSERT (no password hashing), so each test runs in
milliseconds on SQLite and on PostgreSQL. Expected results are computed independently:
in Python from a plain read of the table, or with COUNT queries written here.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from rxapp.models import BackupCode, Passkey, User
from rxapp.services import users_query
from rxapp.services.database import engine_for
from rxapp.services.users_query import (
    MAX_SEARCH,
    PAGE_SIZE,
    QueryError,
    SortKey,
    StatusFilter,
    UserRow,
    fetch_page,
    iter_rows,
    normalize_search,
    parse_filter,
    parse_sort,
)
from tests.conftest import empty_postgres

# The query is dialect SQL through and through (LIKE escapes, collation, NULL order): every
# test runs on both databases.
pytestmark = pytest.mark.both_databases

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$not-a-real-hash-but-a-constant"
TOTP_SECRET = "gAAAAAB-encrypted-totp-secret-stand-in"
SEEDED = 137  # three pages: 50, 50, 37
NAMES = ["ann", "anna", "bob", "carla", "dmitri", "eve", "li", "mo"]
DOMAINS = ["example.com", "example.org", "corp.test"]


def user_values(
    email: str,
    *,
    activated: bool = False,
    created_at: datetime = NOW - timedelta(days=10),
    last_sign_in_at: datetime | None = None,
    is_admin: bool = False,
) -> dict:
    """One row for a bulk insert; an activated user gets a secret and a consistent flag."""
    return {
        "email": email,
        "password_hash": PASSWORD_HASH,
        "is_admin": is_admin,
        "created_at": created_at,
        "last_sign_in_at": last_sign_in_at,
        "totp_secret": TOTP_SECRET if activated else None,
        "totp_enabled_at": created_at + timedelta(hours=1) if activated else None,
        "twofa_active": activated,
    }


def user_count(db: Session) -> int:
    return db.exec(select(func.count()).select_from(User)).one()


def insert_users(db: Session, rows: list[dict]) -> None:
    db.exec(sa.insert(User), params=rows)
    db.commit()


def realistic_mix(count: int = SEEDED) -> list[dict]:
    """About 40% with 2FA, some admins, ties in the dates, some who never signed in."""
    rng = random.Random(20250301)
    rows = []
    for i in range(count):
        created = NOW - timedelta(days=rng.randrange(30))  # many users share a day
        signed_in = None if rng.random() < 0.3 else NOW - timedelta(hours=rng.randrange(20))
        rows.append(
            user_values(
                f"{NAMES[i % len(NAMES)]}.{i}@{DOMAINS[i % len(DOMAINS)]}",
                activated=rng.random() < 0.4,
                created_at=created,
                last_sign_in_at=signed_in,
                is_admin=i % 23 == 0,
            )
        )
    return rows


@pytest.fixture(autouse=True)
def default_policy(monkeypatch):
    """The documented 2FA policy (admins), whatever the environment running the tests says."""
    from rxapp.settings import get_settings

    monkeypatch.delenv("RXAPP_REQUIRE_2FA", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def seeded(db: Session) -> list[User]:
    """The realistic mix, read back with a plain SELECT (the independent view of the data)."""
    insert_users(db, realistic_mix())
    return list(db.exec(select(User)).all())


def all_pages(db: Session, **view) -> list[UserRow]:
    """Every row of a view, page by page."""
    first = fetch_page(db, page=1, **view)
    rows = list(first.rows)
    for number in range(2, first.pages + 1):
        rows.extend(fetch_page(db, page=number, **view).rows)
    return rows


def emails_of(rows: list[UserRow]) -> list[str]:
    return [row.email for row in rows]


def ids_of(rows: list[UserRow]) -> list[int]:
    return [row.id for row in rows]


# --- parse_filter ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, ""])
def test_absent_or_empty_filter_means_all_users(raw):
    assert parse_filter(raw) is StatusFilter.ALL


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("all", StatusFilter.ALL),
        ("activated", StatusFilter.ACTIVATED),
        ("not_activated", StatusFilter.NOT_ACTIVATED),
        ("ACTIVATED", StatusFilter.ACTIVATED),  # a link typed or shared in capitals
        (" Not_Activated ", StatusFilter.NOT_ACTIVATED),
    ],
)
def test_each_allowed_filter_value_is_accepted(raw, expected):
    assert parse_filter(raw) is expected


@pytest.mark.parametrize(
    "raw", ["enabled", "yes", "activated; DROP TABLE app_user", "not-activated", "x" * 5000]
)
def test_unknown_filter_is_a_query_error_with_a_clear_message(raw):
    with pytest.raises(QueryError) as caught:
        parse_filter(raw)
    message = str(caught.value)
    assert "2FA filter" in message
    assert raw[:20] in message  # names what was given ...
    assert len(message) < 200  # ... without echoing an unbounded value


@pytest.mark.parametrize("raw", [1, 0, True, False, 1.5, ["activated"], {"twofa": "activated"}])
def test_non_string_filter_is_a_query_error(raw):
    with pytest.raises(QueryError):
        parse_filter(raw)


def test_query_error_is_a_value_error_for_callers_that_catch_those():
    assert issubclass(QueryError, ValueError)


# --- parse_sort -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("email", SortKey.EMAIL),
        ("created", SortKey.CREATED),
        ("last_sign_in", SortKey.LAST_SIGN_IN),
    ],
)
def test_each_sort_key_is_accepted(raw, expected):
    assert parse_sort(raw) is expected


@pytest.mark.parametrize("raw", ["password_hash", "totp_secret", "id; --", "EMAIL", None, 3, []])
def test_unknown_sort_is_a_query_error(raw):
    with pytest.raises(QueryError, match="sort"):
        parse_sort(raw)


# --- normalize_search -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Example.COM \t", "alice@example.com"),
        ("ANN", "ann"),
        ("   ", ""),
        ("", ""),
        ("ÉMILE", "émile"),
    ],
)
def test_search_is_trimmed_and_lower_cased(raw, expected):
    assert normalize_search(raw) == expected


def test_search_is_capped_at_the_longest_email():
    assert MAX_SEARCH == 254
    assert normalize_search("a" * 254) == "a" * 254
    assert normalize_search("A" * 10_000) == "a" * 254


@pytest.mark.parametrize("raw", [None, 5, b"ann", ["ann"], {"q": "ann"}])
def test_non_string_search_is_empty(raw):
    assert normalize_search(raw) == ""


# --- rows as the service writes them ------------------------------------------------------


def test_database_accepts_consistent_rows(db):
    insert_users(db, [user_values("on@example.com", activated=True), user_values("off@x.test")])
    assert user_count(db) == 2


# --- counts ---------------------------------------------------------------------------------


def independent_count(db: Session, *, activated: bool | None, search: str) -> int:
    """COUNT(*) written without the module's helpers: substr for the prefix, the timestamp
    (not the flag) for the status."""
    sql = "SELECT COUNT(*) FROM app_user WHERE substr(email, 1, :n) = :prefix"
    if activated is True:
        sql += " AND totp_enabled_at IS NOT NULL"
    elif activated is False:
        sql += " AND totp_enabled_at IS NULL"
    params = {"n": len(search), "prefix": search}
    if not search:
        sql = sql.replace("substr(email, 1, :n) = :prefix", "1 = 1")
        params = {}
    return db.exec(sa.text(sql), params=params).scalar_one()


@pytest.mark.parametrize("status", list(StatusFilter))
def test_counts_equal_independent_count_queries(db, seeded, status):
    for search in ["", "ann", "anna.1", "bob.", "e", "nobody-matches"]:
        result = fetch_page(db, status=status, search=search)
        activated = independent_count(db, activated=True, search=search)
        not_activated = independent_count(db, activated=False, search=search)
        assert (result.activated, result.not_activated) == (activated, not_activated), search
        expected_total = {
            StatusFilter.ALL: independent_count(db, activated=None, search=search),
            StatusFilter.ACTIVATED: activated,
            StatusFilter.NOT_ACTIVATED: not_activated,
            # The default policy (RXAPP_REQUIRE_2FA=admins): admins without 2FA.
            StatusFilter.REQUIRED: sum(
                u.email.startswith(search) and u.is_admin and u.totp_enabled_at is None
                for u in seeded
            ),
            StatusFilter.HAS_PASSKEY: 0,  # the seeded accounts have none
        }[status]
        assert result.total == expected_total, search
        assert len(all_pages(db, status=status, search=search)) == expected_total, search


def test_seed_has_a_realistic_mix(seeded):
    """Guards the other tests: both statuses, admins, ties and never-signed-in users."""
    activated = sum(u.totp_enabled_at is not None for u in seeded)
    assert len(seeded) == SEEDED
    assert 0.25 * SEEDED < activated < 0.6 * SEEDED
    assert any(u.is_admin for u in seeded)
    assert any(u.last_sign_in_at is None for u in seeded)
    assert len({u.created_at for u in seeded}) < SEEDED
    assert len({u.last_sign_in_at for u in seeded if u.last_sign_in_at}) < SEEDED


# --- filter ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(StatusFilter))
def test_filter_returns_exactly_the_users_with_that_status(db, seeded, status):
    wanted = {
        StatusFilter.ALL: lambda u: True,
        StatusFilter.ACTIVATED: lambda u: u.totp_enabled_at is not None,
        StatusFilter.NOT_ACTIVATED: lambda u: u.totp_enabled_at is None,
        StatusFilter.REQUIRED: lambda u: u.is_admin and u.totp_enabled_at is None,
        StatusFilter.HAS_PASSKEY: lambda u: False,  # the seeded accounts have none
    }[status]
    rows = all_pages(db, status=status)
    assert sorted(ids_of(rows)) == sorted(u.id for u in seeded if wanted(u))
    by_id = {u.id: u for u in seeded}
    for row in rows:
        assert row.activated == (by_id[row.id].totp_enabled_at is not None)
        assert row.enabled_at == by_id[row.id].totp_enabled_at


# --- search ---------------------------------------------------------------------------------


def test_search_matches_emails_that_start_with_it(db, seeded):
    for search in ["ann", "ann.", "anna.", "bob.1", "mo.13", "l", "eve.5@corp.test"]:
        rows = all_pages(db, search=search)
        expected = sorted(u.email for u in seeded if u.email.startswith(search))
        assert sorted(emails_of(rows)) == expected, search
        assert rows, search  # every search here matches someone


def test_search_is_a_prefix_not_a_substring(db, seeded):
    assert fetch_page(db, search="example").total == 0
    assert fetch_page(db, search=".1").total == 0
    assert fetch_page(db, search="nna").total == 0


def test_search_is_case_insensitive_through_normalize_search(db, seeded):
    upper = all_pages(db, search=normalize_search("  ANNA.1 "))
    lower = all_pages(db, search="anna.1")
    assert ids_of(upper) == ids_of(lower)
    assert upper


def test_search_combines_with_the_status_filter(db, seeded):
    rows = all_pages(db, status=StatusFilter.ACTIVATED, search="ann")
    expected = {u.id for u in seeded if u.email.startswith("ann") and u.totp_enabled_at}
    assert set(ids_of(rows)) == expected
    assert expected


@pytest.fixture
def tricky(db: Session) -> None:
    """Emails with SQL and LIKE metacharacters, each beside a look-alike a wildcard would hit."""
    insert_users(
        db,
        [
            user_values(email)
            for email in [
                "100%sure@example.com",
                "1000@example.com",
                "a_b@example.com",
                "axb@example.com",
                "o'neil@example.com",
                "oxneil@example.com",
                "back\\slash@example.com",
                "backxslash@example.com",
                "zed@example.com",
            ]
        ],
    )


def matches(db: Session, search: str) -> list[str]:
    result = fetch_page(db, search=normalize_search(search))
    assert result.total == len(result.rows)
    return emails_of(result.rows)


def test_like_wildcards_in_a_search_match_literally(db, tricky):
    assert matches(db, "100%") == ["100%sure@example.com"]
    assert matches(db, "%") == []
    assert matches(db, "%sure") == []
    assert matches(db, "a_") == ["a_b@example.com"]
    assert matches(db, "_") == []


def test_quotes_in_a_search_match_literally_and_inject_nothing(db, tricky):
    assert matches(db, "o'") == ["o'neil@example.com"]
    assert matches(db, "'") == []
    assert matches(db, "' or '1'='1") == []
    assert matches(db, "'; delete from app_user; --") == []
    assert fetch_page(db).total == 9  # nothing was deleted


def test_backslashes_in_a_search_match_literally(db, tricky):
    assert matches(db, "back\\") == ["back\\slash@example.com"]
    assert matches(db, "\\") == []
    assert matches(db, "back\\%") == []


def test_unicode_search_matches_unicode_emails(db):
    emails = ["émile@example.com", "emile@example.com", "zoë@example.com", "zoe@example.com"]
    emails += ["日本@example.jp", "🚀launch@example.com", "launch@example.com"]
    insert_users(db, [user_values(e) for e in emails])
    assert matches(db, "ÉMI") == ["émile@example.com"]
    assert matches(db, "zoë") == ["zoë@example.com"]
    assert matches(db, "zo") == ["zoe@example.com", "zoë@example.com"]
    assert matches(db, "日本") == ["日本@example.jp"]
    assert matches(db, "🚀") == ["🚀launch@example.com"]


def test_search_finds_emails_whose_next_character_is_outside_the_basic_plane(db):
    """An address like rocket🚀@... must be found by typing "rocket" (UTF-8 sorts 🚀 after
    U+FFFF, so an upper bound of prefix + U+FFFF is not an upper bound)."""
    emails = ["rocket🚀@example.com", "rocket@example.com", "rockets@example.com"]
    insert_users(db, [user_values(e) for e in emails])
    result = fetch_page(db, search="rocket")
    assert sorted(emails_of(result.rows)) == sorted(emails)
    assert result.total == 3


# --- sorting --------------------------------------------------------------------------------


def test_sort_by_email_ascending_and_descending(db, seeded):
    expected = sorted(u.email for u in seeded)
    assert emails_of(all_pages(db, sort=SortKey.EMAIL)) == expected
    assert emails_of(all_pages(db, sort=SortKey.EMAIL, descending=True)) == expected[::-1]


def test_sort_by_created_breaks_ties_by_id(db, seeded):
    expected = [u.id for u in sorted(seeded, key=lambda u: (u.created_at, u.id))]
    assert ids_of(all_pages(db, sort=SortKey.CREATED)) == expected
    assert ids_of(all_pages(db, sort=SortKey.CREATED, descending=True)) == expected[::-1]


def test_sort_by_last_sign_in_orders_signed_in_users_with_ties_by_id(db, seeded):
    signed_in = sorted(
        (u for u in seeded if u.last_sign_in_at), key=lambda u: (u.last_sign_in_at, u.id)
    )
    expected = [u.id for u in signed_in]
    for descending, order in ((False, expected), (True, expected[::-1])):
        rows = all_pages(db, sort=SortKey.LAST_SIGN_IN, descending=descending)
        assert len(rows) == SEEDED  # users who never signed in are not dropped
        assert [r.id for r in rows if r.last_sign_in_at] == order


def test_users_who_never_signed_in_sort_as_the_oldest_on_every_database(db, seeded):
    """Never having signed in counts as older than any sign-in: first ascending, last
    descending, ties by id, the same on SQLite and PostgreSQL (whose NULL defaults differ)."""
    never = sorted(u.id for u in seeded if u.last_sign_in_at is None)
    ascending = ids_of(all_pages(db, sort=SortKey.LAST_SIGN_IN))
    descending = ids_of(all_pages(db, sort=SortKey.LAST_SIGN_IN, descending=True))
    assert ascending[: len(never)] == never
    assert descending[-len(never) :] == never[::-1]


@pytest.mark.parametrize("sort", list(SortKey))
def test_descending_is_the_exact_reverse_of_ascending(db, seeded, sort):
    ascending = ids_of(all_pages(db, sort=sort))
    assert ids_of(all_pages(db, sort=sort, descending=True)) == ascending[::-1]
    assert sorted(ascending) == sorted(u.id for u in seeded)


def test_sort_applies_within_a_filtered_search(db, seeded):
    rows = all_pages(db, status=StatusFilter.NOT_ACTIVATED, search="a", sort=SortKey.CREATED)
    expected = sorted(
        (u for u in seeded if u.email.startswith("a") and u.totp_enabled_at is None),
        key=lambda u: (u.created_at, u.id),
    )
    assert ids_of(rows) == [u.id for u in expected]


# --- paging ---------------------------------------------------------------------------------


def test_pages_hold_page_size_rows_and_the_last_page_the_rest(db, seeded):
    assert PAGE_SIZE == 50
    pages = [fetch_page(db, page=n) for n in (1, 2, 3)]
    assert [len(p.rows) for p in pages] == [50, 50, SEEDED - 100]
    assert [p.page for p in pages] == [1, 2, 3]
    assert all(p.pages == 3 and p.total == SEEDED for p in pages)
    ids = [i for p in pages for i in ids_of(p.rows)]
    assert len(set(ids)) == SEEDED  # no row on two pages, none missing


def test_a_page_beyond_the_end_clamps_to_the_last_page(db, seeded):
    last = fetch_page(db, page=3, sort=SortKey.CREATED)
    for beyond in (4, 5, 10_000):
        clamped = fetch_page(db, page=beyond, sort=SortKey.CREATED)
        assert clamped.page == 3
        assert clamped.rows == last.rows


def test_an_empty_result_is_one_empty_page(db, seeded):
    for page in (1, 7):
        result = fetch_page(db, search="nobody-matches", page=page)
        assert (result.rows, result.page, result.pages, result.total) == ([], 1, 1, 0)


def test_a_filtered_view_pages_over_its_own_total(db, seeded):
    result = fetch_page(db, status=StatusFilter.ACTIVATED, page=99)
    assert result.pages == -(-result.total // PAGE_SIZE)
    assert result.page == result.pages
    assert len(result.rows) == result.total - (result.pages - 1) * PAGE_SIZE


def test_an_exact_multiple_of_the_page_size_has_no_empty_last_page(db):
    insert_users(db, [user_values(f"u{i:03d}@example.com") for i in range(2 * PAGE_SIZE)])
    result = fetch_page(db, page=3)
    assert (result.pages, result.page, len(result.rows)) == (2, 2, PAGE_SIZE)


def test_a_page_below_one_is_a_query_error(db, seeded):
    for number in (0, -1, -10_000):
        with pytest.raises(QueryError, match="Page"):
            fetch_page(db, page=number)


def test_a_page_that_is_not_an_integer_is_a_query_error(db, seeded):
    for number in ("1", "2", 1.0, 2.5, None, [1]):
        with pytest.raises(QueryError):
            fetch_page(db, page=number)


# --- what a row carries ---------------------------------------------------------------------


def test_rows_carry_no_password_hash_or_secret(db, seeded):
    assert {f.name for f in dataclasses.fields(UserRow)} == {
        "id",
        "email",
        "activated",
        "enabled_at",
        "created_at",
        "last_sign_in_at",
        "backup_codes_left",
        "is_admin",
        "required_by",
        "passkeys",
    }
    for row in fetch_page(db, status=StatusFilter.ACTIVATED).rows:
        text = repr(row)
        assert PASSWORD_HASH not in text
        assert TOTP_SECRET not in text
        assert not hasattr(row, "totp_secret")
        assert not hasattr(row, "password_hash")


def test_rows_carry_the_users_facts(db, seeded):
    by_id = {u.id: u for u in seeded}
    for row in all_pages(db):
        user = by_id[row.id]
        assert (row.email, row.is_admin) == (user.email, user.is_admin)
        assert row.created_at == user.created_at
        assert row.last_sign_in_at == user.last_sign_in_at
        assert row.created_at.tzinfo is not None


def test_backup_codes_left_counts_only_unused_codes(db):
    insert_users(
        db,
        [user_values(f"{name}@example.com", activated=True) for name in ("five", "three", "none")]
        + [user_values("nocodes@example.com")],
    )
    ids = {u.email.split("@")[0]: u.id for u in db.exec(select(User)).all()}

    def codes(user_id: int, *, unused: int, used: int) -> list[dict]:
        return [
            {
                "user_id": user_id,
                "code_hash": f"hash-{user_id}-{n}",
                "created_at": NOW,
                "used_at": NOW + timedelta(minutes=n) if n < used else None,
            }
            for n in range(unused + used)
        ]

    db.exec(
        sa.insert(BackupCode),
        params=codes(ids["five"], unused=5, used=0)
        + codes(ids["three"], unused=3, used=2)
        + codes(ids["none"], unused=0, used=5),
    )
    db.commit()
    left = {row.email.split("@")[0]: row.backup_codes_left for row in fetch_page(db).rows}
    assert left == {"five": 5, "three": 3, "none": 0, "nocodes": 0}


# --- iter_rows ------------------------------------------------------------------------------


VIEWS = [
    {},
    {"sort": SortKey.EMAIL, "descending": True},
    {"sort": SortKey.CREATED},
    {"sort": SortKey.LAST_SIGN_IN, "descending": True},
    {"status": StatusFilter.ACTIVATED, "sort": SortKey.LAST_SIGN_IN},
    {"status": StatusFilter.NOT_ACTIVATED, "search": "ann", "sort": SortKey.CREATED},
    {"search": "nobody-matches"},
]


@pytest.mark.parametrize("batch", [7, 1000])
def test_iter_rows_yields_the_pages_rows_in_the_same_order(db, seeded, batch):
    for view in VIEWS:
        rows = list(iter_rows(db, batch=batch, **view))
        assert rows == all_pages(db, **view), view
        assert len(rows) == fetch_page(db, **view).total, view


def test_module_exposes_only_the_documented_filters():
    assert {f.value for f in users_query.StatusFilter} == {
        "all",
        "activated",
        "not_activated",
        "required",
        "has_passkey",
    }


def test_an_account_with_passkeys_alone_is_activated_and_filtered_by_has_a_passkey(db):
    insert_users(
        db,
        [
            user_values("app@example.com", activated=True),
            user_values("keys@example.com") | {"twofa_active": True},
            user_values("none@example.com"),
        ],
    )
    keys_id = db.exec(select(User.id).where(User.email == "keys@example.com")).one()
    for n in range(2):
        db.add(
            Passkey(
                user_id=keys_id,
                credential_id=f"cred-{n}",
                public_key="AA",
                name=f"Key {n}",
                created_at=NOW,
            )
        )
    db.commit()

    page = fetch_page(db, status=parse_filter("has_passkey"))
    assert [(r.email, r.activated, r.passkeys) for r in page.rows] == [
        ("keys@example.com", True, 2)
    ]
    assert page.total == 1
    everyone = {r.email: (r.activated, r.passkeys) for r in fetch_page(db).rows}
    assert everyone == {
        "app@example.com": (True, 0),
        "keys@example.com": (True, 2),
        "none@example.com": (False, 0),
    }
    assert fetch_page(db, status=StatusFilter.ACTIVATED).total == 2


def add_passkey(db: Session, email: str, created_at: datetime) -> None:
    user_id = db.exec(select(User.id).where(User.email == email)).one()
    db.add(
        Passkey(
            user_id=user_id,
            credential_id=f"cred-{email}-{created_at.isoformat()}",
            public_key="AA",
            name="Key",
            created_at=created_at,
        )
    )
    db.commit()


@pytest.mark.both_databases
def test_2fa_since_is_the_oldest_second_factor_still_in_place(db):
    insert_users(
        db,
        [
            user_values("app@example.com", activated=True),
            user_values("keys@example.com") | {"twofa_active": True},
            user_values("key-first@example.com", activated=True),
            user_values("none@example.com"),
        ],
    )
    app_since = db.exec(select(User.totp_enabled_at).where(User.email == "app@example.com")).one()
    add_passkey(db, "app@example.com", app_since + timedelta(days=3))
    add_passkey(db, "keys@example.com", NOW + timedelta(days=2))
    add_passkey(db, "keys@example.com", NOW + timedelta(days=1))
    key_first = db.exec(
        select(User.totp_enabled_at).where(User.email == "key-first@example.com")
    ).one()
    add_passkey(db, "key-first@example.com", key_first - timedelta(hours=5))

    since = {r.email: r.enabled_at for r in fetch_page(db).rows}
    assert since == {
        "app@example.com": app_since,
        "keys@example.com": NOW + timedelta(days=1),
        "key-first@example.com": key_first - timedelta(hours=5),
        "none@example.com": None,
    }


@pytest.fixture
def postgres_db(postgres_database):
    """A session on the empty PostgreSQL test database (SQLite compares by code point
    already: locale collations are PostgreSQL's)."""
    empty_postgres(postgres_database)
    with Session(engine_for(postgres_database), expire_on_commit=False) as session:
        yield session


def test_search_is_a_code_point_prefix_even_under_a_locale_collation(postgres_db):
    db = postgres_db
    db.exec(
        sa.text('ALTER TABLE app_user ALTER COLUMN email TYPE varchar(254) COLLATE "en-US-x-icu"')
    )
    db.commit()
    try:
        insert_users(db, [user_values(e) for e in ("jo@x.io", "jö@x.io", "éa@x.io", "ea@x.io")])
        found = users_query.fetch_page(db, search="jo")
        assert [r.email for r in found.rows] == ["jo@x.io"]
        assert [r.email for r in users_query.fetch_page(db, search="e").rows] == ["ea@x.io"]
    finally:
        db.rollback()
        db.exec(
            sa.text('ALTER TABLE app_user ALTER COLUMN email TYPE varchar(254) COLLATE "default"')
        )
        db.commit()
