"""Password hashing with argon2id through passlib's API (from its maintained fork libpass)."""

from __future__ import annotations

import itertools
import string
import unicodedata
from dataclasses import dataclass
from functools import cache

from passlib.context import CryptContext

MIN_PASSWORD_LENGTH = 8
# NIST SP 800-63B asks for at least 64 characters; the cap keeps hashing cheap to call.
MAX_PASSWORD_LENGTH = 1024
# A password of at most MAX_PASSWORD_LENGTH characters in another spelling (decomposed
# accents take up to four code points per character).
_MAX_TYPED_LENGTH = 4 * MAX_PASSWORD_LENGTH

# OWASP Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1.
_CONTEXT = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=19456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)
_DUMMY_HASH = _CONTEXT.hash("not a real password: keeps unknown emails as slow as real ones")


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of checking a password: `new_hash` is set when the stored one is outdated."""

    ok: bool
    new_hash: str | None = None


def password_problem(password: object, *, email: str = "") -> str | None:
    """Why `password` cannot be a new password (of the account `email`), or None when it
    can: its length counted as typed and as normalised (which may be shorter or far
    longer), and none of what NIST SP 800-63B (5.1.1.2) asks to refuse (`guessable`)."""
    if not isinstance(password, str) or password == "":
        return "Enter a password."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password must have at most {MAX_PASSWORD_LENGTH} characters."
    normalized = normalize(password)
    if len(normalized) < MIN_PASSWORD_LENGTH:
        return f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
    if len(normalized) > MAX_PASSWORD_LENGTH:
        return f"The password must have at most {MAX_PASSWORD_LENGTH} characters."
    if why := guessable(normalized, email=email):
        return f"That password is too easy to guess: {why}. {CHOOSE_ANOTHER}"
    return None


CHOOSE_ANOTHER = "Choose another: a few unrelated words make a good one."
# Characters that dress up a guessable word without making it harder to guess
# ("Password1!", "carol2026").
_DRESSING = string.digits + string.punctuation + string.whitespace
_MAX_DRESSING = 6
SERVICE_NAME = "rxapp"


def guessable(password: str, *, email: str = "") -> str | None:
    """Why a normalised password is among those NIST SP 800-63B (5.1.1.2) asks verifiers to
    refuse, or None: one of the most common passwords or first names (zxcvbn's lists), the
    account's email, its name or the service's, alone or dressed up with digits and marks,
    repetitive or sequential characters."""
    folded = password.casefold()
    if not folded.strip():
        return "it is only spaces"
    if len(set(folded)) <= 2:
        return "it repeats one or two characters"
    if _sequential(folded):
        return "it is a simple sequence, like 12345678 or abcdefgh"
    core = _undressed(folded)
    local = email.casefold().partition("@")[0]
    own = {w for w in (email.casefold(), local, SERVICE_NAME) if len(w) >= 3}
    if folded in own or core in own:
        return "it is made of your email address or the name of this service"
    common = _common_passwords()
    if folded in common or (len(core) >= 4 and core in common):
        return "it is one of the most common passwords"
    return None


def _undressed(folded: str) -> str:
    """The word inside a little dressing: at most 6 digits or marks at either end
    ("password1!", "carol2026"); more is not dressing ("love-2847-9183-2291")."""
    start = len(folded) - len(folded.lstrip(_DRESSING))
    end = len(folded) - len(folded.rstrip(_DRESSING))
    return folded.strip(_DRESSING) if max(start, end) <= _MAX_DRESSING else folded


def _sequential(text: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    return steps in ({1}, {-1})


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    # First names are among the most chosen passwords too ("jennifer1990").
    lists = ("passwords", "male_names", "female_names")
    return frozenset(word for name in lists for word in FREQUENCY_LISTS[name])


def normalize(password: str) -> str:
    """One spelling of each password: NFKC (NIST SP 800-63B, 5.1.1.2), so that `ä` typed as
    one character or as `a` and a combining mark, on whatever keyboard, is the same."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """A new argon2id hash of `password`, normalised (see `password_problem` first)."""
    return _CONTEXT.hash(normalize(password))


def check_password(password: str, stored_hash: str | None) -> PasswordCheck:
    """Verify `password`; with no stored hash, spend the same time on a dummy and fail.

    The normalised spelling is checked; a password whose spelling normalisation changes is
    also checked as typed, for a hash made before passwords were normalised (upgraded to
    the normalised one when it matches). How long that takes depends on the input alone."""
    if not isinstance(password, str) or len(password) > _MAX_TYPED_LENGTH:
        password = ""
    if len(normalize(password)) > MAX_PASSWORD_LENGTH:  # it may grow: U+FDFA is 18 letters
        password = ""
    spellings = dict.fromkeys([normalize(password), password])
    if stored_hash is None:
        for spelling in spellings:
            _CONTEXT.verify(spelling, _DUMMY_HASH)
        return PasswordCheck(ok=False)
    normalized, *as_typed = spellings
    try:
        ok, new_hash = _CONTEXT.verify_and_update(normalized, stored_hash)
        if not ok and as_typed and _CONTEXT.verify(as_typed[0], stored_hash):
            return PasswordCheck(ok=True, new_hash=hash_password(password))
    except (ValueError, TypeError):
        return PasswordCheck(ok=False)
    return PasswordCheck(ok=ok, new_hash=new_hash if ok else None)
