"""Backup codes: format and entropy, tolerant input, hashed storage, single use."""

from __future__ import annotations

import math
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from rxapp.models import BackupCode, User
from rxapp.services import reveals, sessions
from rxapp.services.database import engine_for
from rxapp.services.mfa.backup_codes import codes as backup_codes

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPED = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")


def add_user(db: Session, email: str = "alice@example.com") -> int:
    user = User(email=email, password_hash="not-a-real-hash", created_at=T0)
    db.add(user)
    db.commit()
    return user.id


@pytest.fixture
def user_id(db) -> int:
    return add_user(db)


@pytest.fixture
def batch(db, user_id) -> list[str]:
    return backup_codes.replace_batch(db, user_id, now=T0)


def test_a_batch_is_five_unique_codes_of_16_crockford_characters(batch):
    assert len(batch) == 5
    assert len(set(batch)) == 5
    for code in batch:
        assert len(code) == 16
        assert set(code) <= set(CROCKFORD)


def test_codes_carry_at_least_64_bits():
    assert len(set(CROCKFORD)) == 32
    assert backup_codes.CODE_LENGTH * math.log2(len(CROCKFORD)) >= 64


def test_new_codes_are_random():
    codes = [backup_codes.new_code() for _ in range(200)]

    assert len(set(codes)) == len(codes)
    # Every character of the alphabet turns up somewhere in 3200 random characters.
    assert set("".join(codes)) == set(CROCKFORD)


def test_two_batches_share_no_code(db, user_id, batch):
    second = backup_codes.replace_batch(db, user_id, now=T0)

    assert not set(batch) & set(second)


def test_codes_are_shown_in_four_groups_of_four(batch):
    for code in batch:
        shown = backup_codes.formatted(code)
        assert GROUPED.fullmatch(shown), shown
        assert shown.replace("-", "") == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01AB23CD45EF67GH", "01AB23CD45EF67GH"),
        ("01ab23cd45ef67gh", "01AB23CD45EF67GH"),
        ("01AB-23CD-45EF-67GH", "01AB23CD45EF67GH"),
        (" 01ab 23cd-45ef  67gh ", "01AB23CD45EF67GH"),
        ("OIAB23CD45EF67GH", "01AB23CD45EF67GH"),  # O -> 0, I -> 1
        ("oLAB-23CD-45EF-67GH", "01AB23CD45EF67GH"),  # o -> 0, L -> 1
        ("ol ab 23 cd 45 ef 67 gh", "01AB23CD45EF67GH"),
    ],
)
def test_normalize_accepts_case_dashes_spaces_and_look_alikes(raw, expected):
    assert backup_codes.normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "01AB23CD45EF67G",  # 15
        "01AB23CD45EF67GH0",  # 17
        "01AB-23CD-45EF",
        "",
        "01AB23CD45EF67GU",  # U is not in the alphabet
        "01AB23CD45EF67G!",
        "01AB23CD45EF67GÉ",
        "０１ＡＢ２３ＣＤ４５ＥＦ６７ＧＨ",  # full-width
        "\u0660\u0661AB23CD45EF67GH",  # Arabic-Indic digits
        "01AB23CD45EF67GH" * 640,  # 10 kB
        None,
        1234567890123456,
        b"01AB23CD45EF67GH",
        ["01AB23CD45EF67GH"],
        {"code": "01AB23CD45EF67GH"},
    ],
    ids=lambda raw: repr(raw)[:24],
)
def test_normalize_rejects_wrong_length_foreign_characters_and_non_strings(raw):
    assert backup_codes.normalize(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "0\u0131AB23CD45EF67GH",  # dotless i: upper() is "I"
        "0123456789ABCDE\u017f",  # long s: upper() is "S"
        "01AB23CD45EF67\ufb00",  # ff ligature: upper() is "FF"
    ],
    ids=["dotless-i", "long-s", "ff-ligature"],
)
def test_normalize_rejects_non_ascii_letters_that_upper_case_to_ascii(raw):
    assert not raw.isascii()

    assert backup_codes.normalize(raw) is None


@given(st.text(max_size=80))
def test_normalize_never_raises_and_yields_a_canonical_code_or_none(raw):
    code = backup_codes.normalize(raw)

    assert code is None or (len(code) == 16 and set(code) <= set(CROCKFORD))


def test_only_argon2id_hashes_are_stored(db, user_id, batch):
    rows = db.exec(select(BackupCode).where(BackupCode.user_id == user_id)).all()

    assert len(rows) == 5
    assert len({row.code_hash for row in rows}) == 5  # salted
    for row in rows:
        assert row.code_hash.startswith("$argon2id$")
        for code in batch:
            assert code not in row.code_hash
            assert backup_codes.formatted(code) not in row.code_hash
            assert code.lower() not in row.code_hash


@pytest.mark.both_databases
def test_a_code_works_once(db, user_id, batch):
    assert backup_codes.use(db, user_id, batch[2], now=T0)
    db.commit()

    assert not backup_codes.use(db, user_id, batch[2], now=T0 + timedelta(seconds=1))
    assert backup_codes.use(db, user_id, batch[3], now=T0)


def test_spending_a_code_records_when(db, user_id, batch):
    backup_codes.use(db, user_id, batch[0], now=T0)
    db.commit()

    used = db.exec(select(BackupCode).where(BackupCode.used_at.is_not(None))).all()
    assert [row.used_at for row in used] == [T0]


def test_a_code_that_was_never_issued_is_refused(db, user_id, batch):
    never = next(c for c in iter(backup_codes.new_code, None) if c not in batch)

    assert not backup_codes.use(db, user_id, never, now=T0)
    assert backup_codes.remaining(db, user_id) == 5


def test_a_code_of_another_user_does_not_work(db, user_id, batch):
    bob = add_user(db, "bob@example.com")
    bobs = backup_codes.replace_batch(db, bob, now=T0)

    assert not backup_codes.use(db, user_id, bobs[0], now=T0)
    assert not backup_codes.use(db, bob, batch[0], now=T0)
    assert backup_codes.remaining(db, user_id) == 5
    assert backup_codes.remaining(db, bob) == 5
    assert backup_codes.use(db, bob, bobs[0], now=T0)


@pytest.mark.both_databases
def test_a_new_batch_invalidates_every_older_code(db, user_id, batch):
    backup_codes.use(db, user_id, batch[0], now=T0)
    db.commit()

    new = backup_codes.replace_batch(db, user_id, now=T0 + timedelta(minutes=1))

    for old in batch:
        assert not backup_codes.use(db, user_id, old, now=T0 + timedelta(minutes=2))
    assert backup_codes.remaining(db, user_id) == 5
    assert len(db.exec(select(BackupCode).where(BackupCode.user_id == user_id)).all()) == 5
    assert backup_codes.use(db, user_id, new[0], now=T0 + timedelta(minutes=2))


def test_remaining_counts_unused_codes(db, user_id):
    assert backup_codes.remaining(db, user_id) == 0
    codes = backup_codes.replace_batch(db, user_id, now=T0)
    assert backup_codes.remaining(db, user_id) == 5

    for left, code in zip([4, 3], codes, strict=False):
        backup_codes.use(db, user_id, code, now=T0)
        db.commit()
        assert backup_codes.remaining(db, user_id) == left

    backup_codes.delete_all(db, user_id)
    db.commit()
    assert backup_codes.remaining(db, user_id) == 0


@pytest.mark.both_databases
def test_concurrent_use_of_one_code_succeeds_exactly_once(db, db_url, user_id, batch):
    threads = 10
    start = threading.Barrier(threads)

    def spend() -> bool:
        with Session(engine_for(db_url)) as own:
            start.wait()
            spent = backup_codes.use(own, user_id, batch[1], now=T0)
            own.commit()
            return spent

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda _: spend(), range(threads)))

    assert results.count(True) == 1
    assert backup_codes.remaining(db, user_id) == 4


@pytest.mark.both_databases
def test_batches_made_at_the_same_time_leave_exactly_one_batch(db, db_url, user_id):
    threads = 6
    start = threading.Barrier(threads)

    def regenerate() -> list[str]:
        with Session(engine_for(db_url)) as own:
            start.wait()
            return backup_codes.replace_batch(own, user_id, now=T0)

    with ThreadPoolExecutor(threads) as pool:
        batches = list(pool.map(lambda _: regenerate(), range(threads)))

    assert backup_codes.remaining(db, user_id) == backup_codes.BATCH_SIZE
    # The codes that survive are exactly one of the batches that were handed out.
    working = [b for b in batches if backup_codes.use(db, user_id, b[0], now=T0)]
    db.rollback()
    assert len(working) == 1


def test_a_new_batch_or_deleting_them_ends_every_reveal_of_the_old_codes(db, user_id, batch):
    """A reveal still showing older codes (in another tab or browser) ends with them."""
    shown = [backup_codes.formatted(code) for code in batch]
    user = db.get(User, user_id)
    token = sessions.start_session(db, user, epoch=user.credential_epoch, now=T0)
    session_id = sessions.current_session(db, token, now=T0).session.id
    for make_them_dead in (
        lambda: backup_codes.replace_batch(db, user_id, now=T0),
        lambda: (backup_codes.delete_all(db, user_id), db.commit()),
    ):
        reveal = reveals.create(
            db, user_id=user_id, session_id=session_id, values=shown, now=T0, seconds=30
        )
        assert reveals.is_live(db, reveal.ref, now=T0)
        make_them_dead()
        assert not reveals.is_live(db, reveal.ref, now=T0)
