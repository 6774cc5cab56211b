"""TOTP (RFC 6238) algorithm: secrets, code normalisation, matching, provisioning.

Pure functions without side effects; `flows` (and `mfa.flow`) store what they decide.
"""

from __future__ import annotations

import hmac
import io
import re
from base64 import b64encode
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from pyotp.exceptions import OTPVerificationError

DIGITS = 6
PERIOD = 30
DRIFT_STEPS = 1  # accept one step either way for clock drift
_MAX_INPUT = 64  # longer input is refused before any other work
_SIX_ASCII_DIGITS = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """A new 160-bit base32 secret."""
    return pyotp.random_base32()


def normalize_code(raw: object) -> str | None:
    """Exactly six ASCII digits once spaces are removed, or None."""
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT:
        return None
    code = raw.replace(" ", "").replace("\t", "")
    return code if _SIX_ASCII_DIGITS.fullmatch(code) else None


def time_step(now: datetime) -> int:
    """The RFC 6238 time step (T) of `now`."""
    return int(now.timestamp()) // PERIOD


def code_at(secret: str, step: int) -> str:
    """The code for `step` (SHA-1, six digits)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).generate_otp(step)


def matching_step(secret: str, code: str, *, now: datetime) -> int | None:
    """The step within the drift window whose code equals `code`, or None: pyotp's own
    window verification (`verify_and_get_timecode`, constant-time comparisons), which
    returns the matched step that the caller stores against replay."""
    try:
        return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).verify_and_get_timecode(
            code, for_time=now, valid_window=DRIFT_STEPS
        )
    except OTPVerificationError:
        return None


def provisioning_uri(secret: str, *, email: str, issuer: str) -> str:
    """The otpauth:// URI that authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=email, issuer_name=issuer
    )


def qr_data_uri(uri: str) -> str:
    """An SVG QR code of `uri`, made on the server, as a data: URI for an <img>."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, border=2, box_size=10)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + b64encode(buffer.getvalue()).decode()


def grouped(secret: str) -> str:
    """The secret in groups of four, as people type it: `ABCD EFGH ...`."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


DIAGNOSE_STEPS = 20  # ±10 minutes


def drift_steps(secret: str, code: str, *, now: datetime) -> int | None:
    """How many steps away from now (beyond the accepted drift, within ±10 minutes) the
    nearest step whose code equals `code` lies: positive when the phone's clock is fast.

    Only for the enable dialog, where the person holds the secret anyway: on the sign-in
    step it would tell a guesser that a code matches another step."""
    current = time_step(now)
    offsets = sorted(range(-DIAGNOSE_STEPS, DIAGNOSE_STEPS + 1), key=abs)
    for offset in offsets:
        if abs(offset) > DRIFT_STEPS and hmac.compare_digest(
            code_at(secret, current + offset), code
        ):
            return offset
    return None
