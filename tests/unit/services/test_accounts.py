"""Accounts: creation rules and the password step of signing in, against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from passlib.context import CryptContext
from sqlmodel import Session, select

from rxapp.models import AuditEvent, User
from rxapp.services import accounts, devices, passwords, sessions, throttle
from rxapp.services.database import engine_for
from rxapp.services.tokens import new_token, token_hash

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
LATER = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
PASSWORD = "Tr0ub4dor-and-3"
# ASCII letters and digits to their full-width forms, which NFKC maps back.
FULL_WIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


def _users(db: Session) -> list[User]:
    return list(db.exec(select(User)).all())


def _audit(db: Session) -> list[AuditEvent]:
    return list(db.exec(select(AuditEvent).order_by(AuditEvent.id)).all())


def _fresh_read(db_url: str, user_id: int) -> User:
    """The user as stored, read through a new session so nothing comes from a cache."""
    with Session(engine_for(db_url)) as other:
        user = other.get(User, user_id)
        other.expunge(user)
        return user


# create_user ----------------------------------------------------------------------------------


def test_create_user_stores_a_normalised_email_and_an_argon2id_hash(db):
    user = accounts.create_user(db, "  Alice@Example.COM ", PASSWORD, now=NOW)

    assert user.id is not None
    assert user.email == "alice@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert passwords.check_password(PASSWORD, user.password_hash).ok
    assert user.created_at == NOW
    assert user.last_sign_in_at is None


@pytest.mark.both_databases
def test_create_user_commits(db, db_url):
    user = accounts.create_user(db, "alice@example.com", PASSWORD, now=NOW)

    assert _fresh_read(db_url, user.id).email == "alice@example.com"


@pytest.mark.both_databases
def test_email_is_unique_whatever_its_case(db):
    accounts.create_user(db, "alice@example.com", PASSWORD, now=NOW)

    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.create_user(db, " ALICE@Example.com", "another-password", now=NOW)

    assert [u.email for u in _users(db)] == ["alice@example.com"]


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Enter your email address."),
        ("not-an-email", "Enter a valid email address, like name@example.com."),
        ("a b@example.com", "Enter a valid email address, like name@example.com."),
        (None, "Enter your email address."),
    ],
    ids=["empty", "no-at", "inner-space", "none"],
)
def test_bad_email_creates_nothing(db, email, message):
    with pytest.raises(accounts.AccountError) as raised:
        accounts.create_user(db, email, PASSWORD, now=NOW)

    assert str(raised.value) == message
    assert _users(db) == []
    assert _audit(db) == []


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "Enter a password."),
        ("seven77", "The password must have at least 8 characters."),
        ("x" * 1025, "The password must have at most 1024 characters."),
        (None, "Enter a password."),
    ],
    ids=["empty", "7-chars", "1025-chars", "none"],
)
def test_unusable_password_creates_nothing(db, password, message):
    with pytest.raises(accounts.AccountError) as raised:
        accounts.create_user(db, "alice@example.com", password, now=NOW)

    assert str(raised.value) == message
    assert _users(db) == []
    assert _audit(db) == []


def test_eight_character_password_is_enough(db):
    assert accounts.create_user(db, "alice@example.com", "7kq!Fz2m", now=NOW).id is not None


def test_accounts_are_not_admins_unless_asked(db):
    plain = accounts.create_user(db, "user@example.com", PASSWORD, now=NOW)
    admin = accounts.create_user(db, "admin@example.com", PASSWORD, now=NOW, is_admin=True)

    assert plain.is_admin is False
    assert admin.is_admin is True


def test_create_user_records_user_created_in_the_audit_trail(db):
    user = accounts.create_user(db, "Alice@Example.com", PASSWORD, now=NOW)

    rows = _audit(db)
    assert len(rows) == 1
    assert rows[0].event == "user_created"
    assert rows[0].user_id == user.id
    assert rows[0].email == "alice@example.com"
    assert rows[0].at == NOW
    assert PASSWORD not in rows[0].detail


@pytest.mark.both_databases
def test_find_user_ignores_case_and_surrounding_spaces(db):
    user = accounts.create_user(db, "alice@example.com", PASSWORD, now=NOW)

    assert accounts.find_user(db, "  ALICE@example.COM ").id == user.id
    assert accounts.find_user(db, "bob@example.com") is None


# check_password_step --------------------------------------------------------------------------


@pytest.fixture
def alice(db) -> User:
    return accounts.create_user(db, "alice@example.com", PASSWORD, now=NOW)


def test_right_password_passes_the_step(db, alice):
    step = accounts.check_password_step(db, "Alice@Example.com ", PASSWORD, now=LATER)

    assert step.user is not None
    assert step.user.id == alice.id
    assert step.message == ""


def test_unknown_email_and_wrong_password_give_the_same_message(db, alice):
    unknown = accounts.check_password_step(db, "nobody@example.com", PASSWORD, now=LATER)
    wrong = accounts.check_password_step(db, "alice@example.com", "not-the-password", now=LATER)

    assert unknown.user is None
    assert wrong.user is None
    assert unknown.message == wrong.message == accounts.GENERIC_SIGN_IN_ERROR
    assert unknown == wrong


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("not-an-email", PASSWORD),
        ("", PASSWORD),
        (None, PASSWORD),
        ("alice@example.com", None),
        ("alice@example.com", ""),
        ("alice@example.com", 12345678),
        ("alice@example.com", PASSWORD.upper()),
        ("alice@example.com", PASSWORD + " "),
        ("alice@example.com", "x" * 100_000),
        (["alice@example.com"], PASSWORD),
    ],
    ids=[
        "invalid-email",
        "empty-email",
        "none-email",
        "none-password",
        "empty-password",
        "int-password",
        "wrong-case-password",
        "trailing-space-password",
        "huge-password",
        "list-email",
    ],
)
def test_every_failure_gives_the_generic_message(db, alice, email, password):
    step = accounts.check_password_step(db, email, password, now=LATER)

    assert step == accounts.PasswordStep(user=None, message=accounts.GENERIC_SIGN_IN_ERROR)


def test_failed_sign_ins_are_audited_without_the_password(db, alice):
    audited_before = len(_audit(db))
    typed = ["guess-number-one", "Tr0ub4dor-and-4", PASSWORD]

    accounts.check_password_step(db, "nobody@example.com", typed[0], now=LATER)
    accounts.check_password_step(db, "alice@example.com", typed[1], now=LATER)
    # The right password for alice, typed with an email that has no account.
    accounts.check_password_step(db, "alicia@example.com", typed[2], now=LATER)

    rows = _audit(db)[audited_before:]
    assert [r.event for r in rows] == ["sign_in_failed"] * 3
    assert [(r.user_id, r.email) for r in rows] == [
        (None, "nobody@example.com"),
        (alice.id, "alice@example.com"),
        (None, "alicia@example.com"),
    ]
    assert all(r.at == LATER for r in rows)
    for row in rows:
        for column, value in row.model_dump().items():
            for password in typed:
                assert password not in str(value), f"password found in audit column {column}"


def test_failed_sign_in_with_garbage_input_is_audited(db):
    step = accounts.check_password_step(db, None, None, now=LATER)

    assert step.user is None
    rows = _audit(db)
    assert [(r.event, r.user_id, r.email) for r in rows] == [("sign_in_failed", None, None)]


def test_successful_password_step_leaves_the_stored_hash_alone(db, db_url, alice):
    before = alice.password_hash

    accounts.check_password_step(db, "alice@example.com", PASSWORD, now=LATER)

    assert _fresh_read(db_url, alice.id).password_hash == before


def test_outdated_hash_is_upgraded_in_the_database_on_sign_in(db, db_url, alice):
    outdated = CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=19456,
        argon2__time_cost=1,
        argon2__parallelism=1,
    ).hash(PASSWORD)
    alice.password_hash = outdated
    db.add(alice)
    db.commit()

    step = accounts.check_password_step(db, "alice@example.com", PASSWORD, now=LATER)

    assert step.user is not None
    stored = _fresh_read(db_url, alice.id).password_hash
    assert stored != outdated
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.check_password(PASSWORD, stored) == passwords.PasswordCheck(ok=True)


@pytest.mark.both_databases
def test_upgrading_an_outdated_hash_never_undoes_a_password_set_meanwhile(
    db, db_url, alice, monkeypatch
):
    alice.password_hash = CryptContext(schemes=["argon2"], argon2__time_cost=1).hash(PASSWORD)
    db.add(alice)
    db.commit()
    read_account = accounts.find_user

    def read_then_reset(request_db: Session, email: str) -> User | None:
        found = read_account(request_db, email)
        # An operator sets a new password just after this sign-in read the account.
        with Session(engine_for(db_url), expire_on_commit=False) as operator_db:
            owner = read_account(operator_db, email)
            assert (
                accounts.set_password(operator_db, owner, "the new one, 2", now=NOW, via="test")
                is None
            )
        return found

    monkeypatch.setattr(accounts, "find_user", read_then_reset)
    accounts.check_password_step(db, "alice@example.com", PASSWORD, now=LATER)  # the old one

    stored = _fresh_read(db_url, alice.id).password_hash
    assert passwords.check_password("the new one, 2", stored).ok
    assert not passwords.check_password(PASSWORD, stored).ok


def test_outdated_hash_is_kept_when_the_password_is_wrong(db, db_url, alice):
    outdated = CryptContext(schemes=["argon2"], argon2__time_cost=1).hash(PASSWORD)
    alice.password_hash = outdated
    db.add(alice)
    db.commit()

    step = accounts.check_password_step(db, "alice@example.com", "not-the-password", now=LATER)

    assert step.user is None
    assert _fresh_read(db_url, alice.id).password_hash == outdated


def test_nfc_and_nfd_spellings_of_an_email_are_one_account(sqlite_db_url):
    nfd, nfc = "jose\u0301@example.com", "jos\u00e9@example.com"
    with Session(engine_for(sqlite_db_url), expire_on_commit=False) as db:
        created = accounts.create_user(db, nfd, "a-long-password", now=NOW)
        assert accounts.find_user(db, nfc).id == created.id
        with pytest.raises(accounts.AccountError, match="already exists"):
            accounts.create_user(db, nfc, "another-password", now=NOW)
        step = accounts.check_password_step(db, nfc.upper(), "a-long-password", now=NOW)
        assert step.user is not None and step.user.id == created.id


# --- changing the password ------------------------------------------------------------


SOON = NOW + timedelta(minutes=1)  # the sessions are still live


def _signed_in_twice(db: Session) -> tuple[User, sessions.SignedIn, str]:
    """An account signed in on two browsers: this one (signed in) and the other's token."""
    user = accounts.create_user(db, "alice@example.com", PASSWORD, now=NOW)
    here = sessions.start_session(db, user, epoch=user.credential_epoch, now=NOW)
    there = sessions.start_session(db, user, epoch=user.credential_epoch, now=NOW)
    signed_in = sessions.current_session(db, here, now=NOW)
    assert signed_in is not None
    return user, signed_in, there


def test_a_new_password_replaces_the_old_and_signs_every_other_session_out(db):
    user, here, there = _signed_in_twice(db)
    pending = sessions.start_pending_login(db, user, now=NOW)

    refused = accounts.change_password(
        db, user, PASSWORD, "a much better passphrase", now=SOON, keep_session_id=here.session.id
    )

    assert refused is None
    assert accounts.check_password_step(db, user.email, PASSWORD, now=SOON).user is None
    assert accounts.check_password_step(db, user.email, "a much better passphrase", now=SOON).user
    assert sessions.current_session(db, there, now=SOON) is None
    assert sessions.current_pending_login(db, pending, now=SOON) is None
    assert sessions.session_by_digest(db, here.session.token_hash, now=SOON) is not None
    rows = _audit(db)
    assert "password_changed" in [row.event for row in rows]
    assert not [r for r in rows if "passphrase" in f"{r.detail} {r.email}"]


def test_a_change_forgets_every_other_browser(db):
    user, here, _there = _signed_in_twice(db)
    mine, stolen = token_hash(new_token()), token_hash(new_token())
    for digest in (mine, stolen):
        devices.remember(db, user.id, digest, now=NOW)
    db.commit()

    accounts.change_password(
        db,
        user,
        PASSWORD,
        "a much better passphrase",
        now=SOON,
        device=mine,
        keep_session_id=here.session.id,
    )

    assert devices.is_known(db, user.id, mine)
    assert not devices.is_known(db, user.id, stolen)


def test_of_two_changes_at_once_with_the_old_password_only_the_first_is_made(db_url):
    with Session(engine_for(db_url), expire_on_commit=False) as db:
        user, here, _there = _signed_in_twice(db)
    # Both requests read the account (and its old hash) before either writes.
    first = Session(engine_for(db_url), expire_on_commit=False)
    second = Session(engine_for(db_url), expire_on_commit=False)
    with first, second:
        user_a, user_b = first.get(User, user.id), second.get(User, user.id)
        assert user_a is not None and user_b is not None
        made = accounts.change_password(
            first,
            user_a,
            PASSWORD,
            "the owner's new one",
            now=SOON,
            keep_session_id=here.session.id,
        )
        late = accounts.change_password(second, user_b, PASSWORD, "the thief's new one", now=SOON)

    assert made is None
    assert late == accounts.PasswordRefused(accounts.CHANGED_MEANWHILE, new_one=False)
    with Session(engine_for(db_url)) as db:
        assert accounts.check_password_step(db, user.email, "the owner's new one", now=SOON).user
        assert (
            accounts.check_password_step(db, user.email, "the thief's new one", now=SOON).user
            is None
        )


@pytest.mark.parametrize(
    ("current", "new", "message", "new_one"),
    [
        ("", "a much better passphrase", "Enter your current password.", False),
        (None, "a much better passphrase", "Enter your current password.", False),
        ("not-the-password", "a much better passphrase", "That password is not right.", False),
        (PASSWORD, "short", "The password must have at least 8 characters.", True),
        (PASSWORD, "x" * 1025, "The password must have at most 1024 characters.", True),
        (PASSWORD, ["a list"], "Enter a password.", True),
        (PASSWORD, PASSWORD, accounts.PASSWORD_UNCHANGED, True),
        # The same characters in another spelling (full-width letters) are the same password.
        (PASSWORD, PASSWORD.translate(FULL_WIDTH), accounts.PASSWORD_UNCHANGED, True),
        (PASSWORD, "\ufdfa" * 57, "The password must have at most 1024 characters.", True),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(db, current, new, message, new_one):
    user, here, there = _signed_in_twice(db)
    before = user.password_hash

    refused = accounts.change_password(
        db, user, current, new, now=SOON, keep_session_id=here.session.id
    )

    assert refused == accounts.PasswordRefused(message, new_one=new_one)
    db.refresh(user)
    assert user.password_hash == before
    assert sessions.current_session(db, there, now=SOON) is not None
    assert "password_changed" not in [row.event for row in _audit(db)]


def test_guessing_the_current_password_is_throttled_like_signing_in(db):
    user, here, _there = _signed_in_twice(db)
    answers = [
        accounts.change_password(
            db,
            user,
            "guess",
            "a much better passphrase",
            now=SOON,
            keep_session_id=here.session.id,
        )
        for _ in range(7)
    ]
    assert answers[-1] is not None and answers[-1].message.startswith("Too many failed attempts")
    # Even the right one waits now.
    right = accounts.change_password(
        db, user, PASSWORD, "a much better passphrase", now=SOON, keep_session_id=here.session.id
    )
    assert right is not None and right.message.startswith("Too many failed attempts")
    # The guesses checked are audited; refusals of the throttle checked nothing.
    failed = [r for r in _audit(db) if r.event == "reauth_failed"]
    assert len(failed) == throttle.FREE_FAILURES
    assert {r.detail for r in failed} == {"password change"}
