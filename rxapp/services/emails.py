"""Email addresses: one canonical form for storage and look-up, and a validity check.

The canonical form is Unicode NFC, trimmed, with the domain IDNA-normalised (UTS #46, as
`email-validator` does it) and everything lower-cased, so `josé@…` typed with a combining
accent (NFD) and with a precomposed é (NFC) are one account, and so are `X@Bücher.de` and
`x@xn--bcher-kva.de`. Validity is `email-validator`'s syntax check (no DNS look-up).
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_LENGTH = 64
EMPTY_MESSAGE = "Enter your email address."
INVALID_MESSAGE = "Enter a valid email address, like name@example.com."


def normalize_email(raw: object) -> str:
    """The canonical form used for storage and look-up ("" for anything but text)."""
    if not isinstance(raw, str):
        return ""
    text = unicodedata.normalize("NFC", raw.strip())
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return text.lower()  # refused by `email_problem`; stable for throttles and messages
    return unicodedata.normalize("NFC", valid.normalized).lower()


def email_problem(email: str) -> str | None:
    """Why a normalised `email` is not an address, or None when it is."""
    if email == "":
        return EMPTY_MESSAGE
    local = email.rpartition("@")[0]
    too_long = len(email) > MAX_EMAIL_LENGTH or len(local) > MAX_LOCAL_LENGTH
    if too_long or any(unicodedata.category(c) == "Cf" for c in email):
        # Invisible format characters (zero-width space, BOM, ...) would make look-alikes.
        return INVALID_MESSAGE
    try:
        validate_email(email, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return INVALID_MESSAGE
    return None


def masked_email(email: str) -> str:
    """The address with the local part hidden but its first character: `a…@example.com`."""
    local, at, domain = email.partition("@")
    if not at or not local:
        return ""
    return f"{local[0]}…@{domain}"
