"""The WebAuthn ceremonies through py_webauthn: options to send to the browser, and
verification of what it answers. Pure: no database, no clock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.decode_credential_public_key import decode_credential_public_key
from webauthn.helpers.decoded_public_key_to_cryptography import (
    decoded_public_key_to_cryptography,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

# What a malformed answer or key can raise from py_webauthn and its CBOR parsing: every
# one of them is a refusal, never a traceback.
_BAD_ANSWER = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, AttributeError)

# What navigator.credentials can reject with (DOMException names), and the module's own.
BROWSER_ERRORS = frozenset(
    {
        "NotAllowedError",
        "AbortError",
        "InvalidStateError",
        "SecurityError",
        "NotSupportedError",
        "ConstraintError",
        "UnknownError",
        "TypeError",
        "unsupported",
        "Error",
    }
)

TIMEOUT_MS = 120_000
MAX_CREDENTIAL_JSON = 16_000  # a credential is a few kilobytes at most


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys belong to: the RP id (a host name) and the page origin."""

    id: str
    origin: str
    name: str


def relying_party(origin: str, *, name: str) -> RelyingParty | None:
    """The relying party for `origin` (`https://host[:port]`); None when it is not one."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port else ""
    return RelyingParty(
        id=parts.hostname, origin=f"{parts.scheme}://{parts.hostname}{port}", name=name
    )


@dataclass(frozen=True)
class NewCredential:
    """A verified registration, ready to store."""

    credential_id: str
    public_key: str
    sign_count: int
    transports: str


@dataclass(frozen=True)
class Assertion:
    """What an authentication answer claims before it is verified."""

    credential_id: str
    user_handle: bytes | None


def _descriptor(credential_id: str, transports: str = "") -> PublicKeyCredentialDescriptor:
    known = {t.value: t for t in AuthenticatorTransport}
    listed = [known[t] for t in transports.split(",") if t in known]
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(credential_id), transports=listed or None
    )


def registration_options(
    rp: RelyingParty,
    *,
    user_handle: bytes,
    user_name: str,
    challenge: bytes,
    exclude: list[str],
) -> str:
    """Creation options as JSON: a discoverable credential, no attestation, user
    verification preferred (required later only for sign-in without a password)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=user_name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[_descriptor(c) for c in exclude],
    )
    return options_to_json(options)


def authentication_options(
    rp: RelyingParty,
    *,
    challenge: bytes,
    allow: list[tuple[str, str]],
    require_user_verification: bool,
) -> str:
    """Request options as JSON; `allow` lists (credential id, transports), empty for a
    discoverable credential."""
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[_descriptor(c, t) for c, t in allow],
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if require_user_verification
            else UserVerificationRequirement.PREFERRED
        ),
    )
    return options_to_json(options)


def _fits(credential_json: object) -> bool:
    return isinstance(credential_json, str) and 0 < len(credential_json) <= MAX_CREDENTIAL_JSON


def verify_registration(
    rp: RelyingParty, credential_json: object, *, challenge: bytes
) -> NewCredential | None:
    """The new credential when the browser's answer holds for this challenge and origin."""
    if not _fits(credential_json):
        return None
    try:
        credential = parse_registration_credential_json(credential_json)
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
        # A key that verifies no signature later (an unknown curve, say) is refused now.
        decoded_public_key_to_cryptography(
            decode_credential_public_key(verified.credential_public_key)
        )
    except _BAD_ANSWER:
        return None
    transports = ",".join(t.value for t in credential.response.transports or [])
    return NewCredential(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=transports[:255],
    )


def read_assertion(credential_json: object) -> Assertion | None:
    """Which credential an authentication answer names (not yet verified)."""
    if not _fits(credential_json):
        return None
    try:
        credential = parse_authentication_credential_json(credential_json)
    except _BAD_ANSWER:
        return None
    return Assertion(
        credential_id=bytes_to_base64url(credential.raw_id),
        user_handle=credential.response.user_handle,
    )


def verify_assertion(
    rp: RelyingParty,
    credential_json: str,
    *,
    challenge: bytes,
    public_key: str,
    require_user_verification: bool,
) -> int | None:
    """The authenticator's new signature counter when the answer's signature, challenge,
    origin and flags hold; else None. The counter itself is judged by the caller, against
    the stored one, so a regression can be told apart and audited."""
    try:
        verified = verify_authentication_response(
            credential=credential_json,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=base64url_to_bytes(public_key),
            credential_current_sign_count=0,
            require_user_verification=require_user_verification,
        )
    except _BAD_ANSWER:
        return None
    return verified.new_sign_count


def counter_regressed(stored: int, new: int) -> bool:
    """Whether the counter went backwards or stood still: a sign of a cloned authenticator.
    Authenticators that keep no counter send 0 every time, which is allowed."""
    return (stored > 0 or new > 0) and new <= stored


def error_name(result: object) -> str | None:
    """The DOMException name the browser module reported instead of a credential, if any."""
    if not isinstance(result, str) or not result.startswith('{"error"'):
        return None
    try:
        data = json.loads(result)
    except ValueError:
        return None
    name = data.get("error") if isinstance(data, dict) else None
    # The browser chose this text: only names the platform defines are kept (audit rows).
    return name if name in BROWSER_ERRORS else "other"
