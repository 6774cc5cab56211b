"""TOTP algorithm (RFC 6238): test vectors, secrets, drift window, input normalisation."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxapp.services.mfa.totp import algorithm as totp

# RFC 6238, appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
# Unix time -> the RFC's 8-digit TOTP; a 6-digit code is its last six digits.
RFC_VECTORS = {
    59: "94287082",
    1111111109: "07081804",
    1111111111: "14050471",
    1234567890: "89005924",
    2000000000: "69279037",
}
BASE32 = re.compile(r"[A-Z2-7]{32}")


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


@pytest.mark.parametrize(("unix", "eight_digits"), RFC_VECTORS.items())
def test_codes_match_the_rfc_6238_sha1_vectors(unix, eight_digits):
    step = totp.time_step(at(unix))

    assert step == unix // 30
    assert totp.code_at(RFC_SECRET, step) == eight_digits[-6:]


def test_time_step_changes_exactly_on_the_30_second_boundary():
    base = 1_700_000_010  # a multiple of 30
    assert base % 30 == 0

    assert totp.time_step(at(base - 1)) == base // 30 - 1
    assert totp.time_step(at(base - 0.001)) == base // 30 - 1
    assert totp.time_step(at(base)) == base // 30
    assert totp.time_step(at(base + 29.999)) == base // 30


def test_time_step_does_not_depend_on_the_time_zone_of_now():
    now = at(1_234_567_890)
    elsewhere = now.astimezone(timezone(timedelta(hours=13)))

    assert totp.time_step(elsewhere) == totp.time_step(now)


def test_new_secret_is_160_random_bits_of_base32():
    secrets = [totp.new_secret() for _ in range(20)]

    for secret in secrets:
        assert BASE32.fullmatch(secret), secret
        assert len(base64.b32decode(secret)) == 20  # 160 bits
    assert len(set(secrets)) == len(secrets)


def test_codes_agree_with_pyotp_for_a_new_secret():
    secret = totp.new_secret()
    now = at(1_750_000_000)

    assert totp.code_at(secret, totp.time_step(now)) == pyotp.TOTP(secret).at(now)


# Seconds 29, 30 and 31 of a 30-second step pair: the last second of one step, the first
# and second seconds of the next.
EDGES = [at(1_700_000_010 - 1), at(1_700_000_010), at(1_700_000_010 + 1)]


@pytest.mark.parametrize("now", EDGES, ids=["second-29", "second-30", "second-31"])
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_previous_current_and_next_step_are_accepted(now, offset):
    secret = totp.new_secret()
    step = totp.time_step(now) + offset

    assert totp.matching_step(secret, totp.code_at(secret, step), now=now) == step


@pytest.mark.parametrize("now", EDGES, ids=["second-29", "second-30", "second-31"])
@pytest.mark.parametrize("offset", [-2, 2])
def test_two_steps_away_is_refused(now, offset):
    current = totp.time_step(now)
    code = totp.code_at(RFC_SECRET, current + offset)
    # A fixed secret whose codes here all differ, so the refusal means something.
    assert code not in {totp.code_at(RFC_SECRET, s) for s in range(current - 1, current + 2)}

    assert totp.matching_step(RFC_SECRET, code, now=now) is None


def test_a_code_of_another_secret_is_refused():
    now = at(1_700_000_010)
    mine, theirs = RFC_SECRET, base64.b32encode(b"another 20-byte seed").decode()
    step = totp.time_step(now)
    code = totp.code_at(theirs, step)
    assert code not in {totp.code_at(mine, s) for s in range(step - 1, step + 2)}

    assert totp.matching_step(mine, code, now=now) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123456", "123456"),
        (" 123 456 ", "123456"),
        ("012345", "012345"),
        ("000000", "000000"),
    ],
)
def test_normalize_code_accepts_six_ascii_digits_with_spaces(raw, expected):
    assert totp.normalize_code(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "１２３４５６",  # full-width digits
        "٠١٢٣٤٥",  # Arabic-Indic digits
        "१२३४५६",  # Devanagari digits
        "12345",
        "1234567",
        "12345a",
        "abcdef",
        "123-456",
        "123.456",
        "+12345",
        "",
        "      ",
        "1" * 10_000,
        " " * 10_000 + "123456",
        None,
        123456,
        123456.0,
        b"123456",
        ["123456"],
        {"code": "123456"},
    ],
    ids=lambda raw: repr(raw)[:20],
)
def test_normalize_code_rejects_everything_else(raw):
    assert totp.normalize_code(raw) is None


@given(st.text())
def test_normalize_code_never_raises_and_yields_six_ascii_digits_or_none(raw):
    code = totp.normalize_code(raw)

    assert code is None or (len(code) == 6 and code.isascii() and code.isdigit())


@given(st.from_regex(r"[0-9]{6}", fullmatch=True), st.lists(st.integers(0, 6), max_size=50))
def test_spaces_anywhere_in_six_digits_are_ignored(digits, positions):
    # At most 50 spaces: the service refuses input over 64 characters before looking at it.
    raw = digits
    for position in sorted(positions, reverse=True):
        raw = raw[:position] + " " + raw[position:]

    assert totp.normalize_code(raw) == digits


def test_provisioning_uri_names_the_issuer_and_the_email():
    secret = totp.new_secret()

    uri = totp.provisioning_uri(secret, email="alice@example.com", issuer="Example Portal")

    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert unquote(parts.path) == "/Example Portal:alice@example.com"
    assert query["issuer"] == ["Example Portal"]
    assert query["secret"] == [secret]
    # Authenticator apps assume SHA-1, 6 digits, 30 s when the URI says nothing else.
    assert query.get("algorithm", ["SHA1"]) == ["SHA1"]
    assert query.get("digits", ["6"]) == ["6"]
    assert query.get("period", ["30"]) == ["30"]


def test_provisioning_uri_round_trips_through_pyotp():
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, email="bob@example.com", issuer="rxapp")
    now = at(1_750_000_000) + timedelta(seconds=7)

    parsed = pyotp.parse_uri(uri)

    assert parsed.at(now) == totp.code_at(secret, totp.time_step(now))


def test_qr_data_uri_is_an_svg_data_uri():
    uri = totp.provisioning_uri(totp.new_secret(), email="alice@example.com", issuer="rxapp")

    data_uri = totp.qr_data_uri(uri)

    prefix = "data:image/svg+xml;base64,"
    assert data_uri.startswith(prefix)
    svg = base64.b64decode(data_uri.removeprefix(prefix), validate=True).decode()
    assert "<svg" in svg
    assert svg.rstrip().endswith("</svg>")


def test_grouped_secret_splits_into_fours_and_keeps_every_character():
    secret = totp.new_secret()

    grouped = totp.grouped(secret)

    assert grouped.split(" ") == [secret[i : i + 4] for i in range(0, 32, 4)]


@pytest.mark.parametrize("offset", [-20, -7, -2, 2, 5, 20])
def test_drift_steps_finds_how_far_off_a_phone_clock_is(offset):
    now = datetime(2026, 11, 30, 8, 0, 10, tzinfo=UTC)
    code = totp.code_at(SECRET_FOR_DRIFT, totp.time_step(now) + offset)

    assert totp.drift_steps(SECRET_FOR_DRIFT, code, now=now) == offset


def test_drift_steps_ignores_codes_inside_the_accepted_window_and_far_away():
    now = datetime(2026, 11, 30, 8, 0, 10, tzinfo=UTC)
    step = totp.time_step(now)

    assert totp.drift_steps(SECRET_FOR_DRIFT, totp.code_at(SECRET_FOR_DRIFT, step), now=now) is None
    far = totp.code_at(SECRET_FOR_DRIFT, step + 25)
    assert totp.drift_steps(SECRET_FOR_DRIFT, far, now=now) is None


SECRET_FOR_DRIFT = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
