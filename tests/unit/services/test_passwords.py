"""Password hashing: argon2id at OWASP cost, rehash on outdated parameters, equal timing."""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from collections.abc import Callable

import pytest
from passlib.context import CryptContext

from rxapp.services import passwords

_ARGON2_HASH = re.compile(
    r"^\$(?P<variant>argon2(?:id|i|d))\$v=(?P<version>\d+)"
    r"\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<digest>[A-Za-z0-9+/]+)$"
)


def _params(stored_hash: str) -> dict[str, str]:
    match = _ARGON2_HASH.match(stored_hash)
    assert match is not None, f"not an argon2 hash string: {stored_hash!r}"
    return match.groupdict()


def _outdated_context(**overrides: object) -> CryptContext:
    """A context like the app's but cheaper, as an older release of the app might have used."""
    options = {
        "argon2__type": "ID",
        "argon2__memory_cost": 19456,
        "argon2__time_cost": 1,
        "argon2__parallelism": 1,
    }
    options.update({f"argon2__{key}": value for key, value in overrides.items()})
    return CryptContext(schemes=["argon2"], **options)


# Hashing --------------------------------------------------------------------------------------


def test_hash_is_argon2id_with_at_least_owasp_minimum_cost():
    params = _params(passwords.hash_password("correct horse battery"))

    assert params["variant"] == "argon2id"
    assert params["version"] == "19"
    assert int(params["m"]) >= 19456
    assert int(params["t"]) >= 2
    assert params["p"] == "1"


def test_hash_does_not_contain_the_password():
    password = "a-distinctive-password"

    assert password not in passwords.hash_password(password)


def test_same_password_hashes_differently_each_time_because_of_the_salt():
    first = passwords.hash_password("same password")
    second = passwords.hash_password("same password")

    assert first != second
    assert _params(first)["salt"] != _params(second)["salt"]


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("ten-bytes!", id="10-byte"),
        pytest.param("p" * 100, id="100-byte-ascii"),
        pytest.param("🔐" * 25, id="100-byte-utf8"),
    ],
)
def test_password_hashes_and_verifies(password):
    stored = passwords.hash_password(password)

    assert passwords.check_password(password, stored) == passwords.PasswordCheck(ok=True)


def test_the_whole_of_a_100_byte_password_counts():
    # bcrypt would silently ignore everything after byte 72; argon2 must not.
    password = "x" * 99 + "a"
    stored = passwords.hash_password(password)

    assert passwords.check_password("x" * 99 + "b", stored).ok is False
    assert passwords.check_password("x" * 72, stored).ok is False


def test_wrong_password_fails():
    stored = passwords.hash_password("the right password")

    result = passwords.check_password("the wrong password", stored)

    assert result.ok is False
    assert result.new_hash is None


def test_password_check_is_case_sensitive():
    stored = passwords.hash_password("Password-With-Case")

    assert passwords.check_password("password-with-case", stored).ok is False


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$broken"])
def test_garbage_stored_hash_fails_without_raising(stored):
    assert passwords.check_password("anything at all", stored) == passwords.PasswordCheck(ok=False)


@pytest.mark.parametrize("password", [None, 12345678, b"bytes-password"])
def test_non_string_password_fails_without_raising(password):
    stored = passwords.hash_password("the right password")

    assert passwords.check_password(password, stored).ok is False


def test_password_over_the_maximum_length_never_verifies():
    too_long = "y" * (passwords.MAX_PASSWORD_LENGTH + 1)
    stored = passwords.hash_password(too_long)

    assert passwords.check_password(too_long, stored).ok is False


# Rehash on outdated parameters ----------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"time_cost": 1}, id="lower-time-cost"),
        pytest.param({"memory_cost": 8192, "time_cost": 2}, id="lower-memory-cost"),
        pytest.param({"type": "I", "time_cost": 2}, id="argon2i-variant"),
    ],
)
def test_outdated_hash_gets_a_current_new_hash_on_success(overrides):
    outdated = _outdated_context(**overrides).hash("an old password")

    result = passwords.check_password("an old password", outdated)

    assert result.ok is True
    assert result.new_hash is not None
    assert result.new_hash != outdated
    params = _params(result.new_hash)
    assert params["variant"] == "argon2id"
    assert int(params["m"]) >= 19456
    assert int(params["t"]) >= 2
    assert params["p"] == "1"
    assert passwords.check_password("an old password", result.new_hash) == passwords.PasswordCheck(
        ok=True
    )


def test_outdated_hash_gets_no_new_hash_when_the_password_is_wrong():
    outdated = _outdated_context(time_cost=1).hash("an old password")

    result = passwords.check_password("not the old password", outdated)

    assert result == passwords.PasswordCheck(ok=False, new_hash=None)


def test_current_hash_gets_no_new_hash():
    stored = passwords.hash_password("a current password")

    assert passwords.check_password("a current password", stored).new_hash is None


# Unicode --------------------------------------------------------------------------------------

COMPOSED = "p\u00e4ssw\u00f6rd \u00fcn\u00ef \U0001f511"  # ä, ö, ü, ï as one character each
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)  # ... as a letter and a combining mark
FULL_WIDTH = (
    "\uff30\uff41\uff53\uff53\uff57\uff4f\uff52\uff44 123"  # "Password 123" in full-width letters
)


@pytest.mark.parametrize(
    ("set_as", "typed_as"),
    [(COMPOSED, DECOMPOSED), (DECOMPOSED, COMPOSED), (FULL_WIDTH, "Password 123")],
    ids=["set-composed", "set-decomposed", "full-width"],
)
def test_every_spelling_of_the_same_characters_is_the_same_password(set_as, typed_as):
    assert DECOMPOSED != COMPOSED
    stored = passwords.hash_password(set_as)

    assert passwords.check_password(typed_as, stored) == passwords.PasswordCheck(ok=True)
    assert not passwords.check_password(typed_as + "!", stored).ok


def test_a_hash_made_before_normalising_still_verifies_and_is_upgraded():
    made_as_typed = passwords._CONTEXT.hash(DECOMPOSED)  # an earlier release's hash

    result = passwords.check_password(DECOMPOSED, made_as_typed)

    assert result.ok and result.new_hash is not None
    assert passwords.check_password(COMPOSED, result.new_hash) == passwords.PasswordCheck(ok=True)
    assert not passwords.check_password(COMPOSED + "x", made_as_typed).ok


GROWS = "\ufdfa"  # one character, 18 once normalised


def test_a_password_that_grows_past_the_maximum_when_normalised_is_refused_up_front():
    assert "at most 1024" in (passwords.password_problem(GROWS * 57) or "")  # 1,026
    assert passwords.password_problem(GROWS * 56) is None  # 1,008 once normalised: fits


def test_a_password_that_grows_past_the_maximum_never_verifies_nor_raises():
    stored = passwords.hash_password("a current password")

    for typed in (GROWS * 228, GROWS * 60):  # 4,104 and 1,080 once normalised
        assert passwords.check_password(typed, stored) == passwords.PasswordCheck(ok=False)
        assert passwords.check_password(typed, None) == passwords.PasswordCheck(ok=False)


def test_the_minimum_length_counts_the_normalised_characters():
    # 8 code points as typed, 4 letters once normalised.
    assert "at least 8" in (passwords.password_problem(_umlauts("aeio")) or "")
    assert passwords.password_problem(_umlauts("aeiouyAO")) is None


def _umlauts(letters: str) -> str:
    """Each letter followed by a combining diaeresis: two code points, one letter (NFKC)."""
    return "".join(letter + "\u0308" for letter in letters)


def test_a_long_password_typed_in_a_longer_spelling_still_verifies():
    set_as = "\u00e4" * 600  # fits as set
    stored = passwords.hash_password(set_as)

    assert passwords.check_password(unicodedata.normalize("NFD", set_as), stored).ok


# Timing ---------------------------------------------------------------------------------------


def _timed(check: Callable[[], object]) -> float:
    start = time.perf_counter()
    check()
    return time.perf_counter() - start


def test_missing_stored_hash_takes_about_as_long_as_a_real_verify():
    stored = passwords.hash_password("a real password")
    passwords.check_password("warm-up", stored)
    passwords.check_password("warm-up", None)

    # Interleaved, so that load from other processes slows both kinds alike.
    real, dummy = [], []
    for _ in range(9):
        real.append(_timed(lambda: passwords.check_password("a wrong guess", stored)))
        dummy.append(_timed(lambda: passwords.check_password("a wrong guess", None)))
    ratio = statistics.median(dummy) / statistics.median(real)

    assert 0.5 <= ratio <= 2.0, f"dummy {dummy} s vs real {real} s"


def test_missing_stored_hash_never_verifies():
    assert passwords.check_password("", None).ok is False
    assert passwords.check_password("not a real password", None).ok is False


# Rules for new passwords ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("", "Enter a password."),
        (None, "Enter a password."),
        (12345678, "Enter a password."),
        (b"bytes-password", "Enter a password."),
        ("seven77", "The password must have at least 8 characters."),
        ("x" * 1025, "The password must have at most 1024 characters."),
    ],
    ids=["empty", "none", "int", "bytes", "7-chars", "1025-chars"],
)
def test_password_problem_explains_unusable_passwords(password, problem):
    assert passwords.password_problem(password) == problem


@pytest.mark.parametrize(
    "password",
    ["7kq!Fz2m", ("correct horse battery staple " * 36)[:1024], "🔐🌲🐢🎈🚲🍋🧭🪁"],
    ids=["8-chars", "1024-chars", "8-emoji"],
)
def test_password_problem_accepts_usable_passwords(password):
    assert passwords.password_problem(password) is None


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("        ", "only spaces"),
        ("\u3000" * 8, "only spaces"),  # ideographic spaces, normalised to spaces
        ("aaaaaaaa", "repeats one or two characters"),
        ("abababab", "repeats one or two characters"),
        ("12345678", "simple sequence"),
        ("zyxwvuts", "simple sequence"),
        ("password", "most common passwords"),
        ("Password1!", "most common passwords"),  # dressed up, still the same word
        ("QWERTYUIOP", "most common passwords"),
        ("iloveyou2026", "most common passwords"),
        ("Jennifer1990", "most common passwords"),  # first names are too
        ("carol@example.com", "your email address"),
        ("Carol2026!", "your email address"),
        ("rxapp-2026", "the name of this service"),
    ],
)
def test_guessable_passwords_are_refused_with_the_reason(password, why):
    problem = passwords.password_problem(password, email="carol@example.com") or ""
    assert problem.startswith("That password is too easy to guess: ")
    assert why in problem
    assert problem.endswith("Choose another: a few unrelated words make a good one.")


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery",
        "carol-likes-tea-at-4",
        "7kq!Fz2m",
        "Tr0ub4dor&3x",
        "love-2847-9183-2291",  # more than a little dressing around a common word
    ],
)
def test_passwords_merely_containing_a_common_word_are_fine(password):
    assert passwords.password_problem(password, email="carol@example.com") is None
