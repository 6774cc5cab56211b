"""Email address normalisation and a deliberately simple validity check."""

from __future__ import annotations

import re
import unicodedata

MAX_EMAIL_LENGTH = 254
# One @, no spaces or control characters, a dot in the domain. Deliverability is not our job.
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f.]+(\.[^@\s\x00-\x1f\x7f.]+)+$")


def normalize_email(raw: object) -> str:
    """The canonical form used for storage and look-up: trimmed and lower-cased."""
    if not isinstance(raw, str):
        return ""
    return raw.strip().lower()


def email_problem(email: str) -> str | None:
    """Why a normalised `email` is not an address, or None when it is."""
    if email == "":
        return "Enter your email address."
    if (
        len(email) > MAX_EMAIL_LENGTH
        or not _EMAIL.fullmatch(email)
        # Invisible format characters (zero-width space, BOM, ...) would make look-alikes.
        or any(unicodedata.category(c) == "Cf" for c in email)
    ):
        return "Enter a valid email address, like name@example.com."
    return None


def masked_email(email: str) -> str:
    """The address with the local part hidden but its first character: `a…@example.com`."""
    local, at, domain = email.partition("@")
    if not at or not local:
        return ""
    return f"{local[0]}…@{domain}"
