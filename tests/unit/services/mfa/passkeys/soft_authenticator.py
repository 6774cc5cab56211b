"""A software authenticator for unit tests: an ES256 key pair that answers WebAuthn
ceremonies the way a browser and a security key would (attestation `none`)."""

from __future__ import annotations

import hashlib
import json
import os
from base64 import urlsafe_b64decode, urlsafe_b64encode

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def challenge_of(options_json: str) -> str:
    return json.loads(options_json)["challenge"]


class SoftAuthenticator:
    """One credential on one authenticator, with its own signature counter."""

    def __init__(self, rp_id: str = "localhost", origin: str = "http://localhost:3000"):
        self.rp_id = rp_id
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.count = 0
        self.user_handle = b""

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _auth_data(self, flags: int, count: int, attested: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + count.to_bytes(4, "big") + attested

    def _client_data(self, kind: str, options_json: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge_of(options_json), "origin": origin or self.origin}
        ).encode()

    def register(self, options_json: str, *, origin: str | None = None) -> str:
        """The answer to `navigator.credentials.create`, as the browser module sends it."""
        options = json.loads(options_json)
        self.user_handle = urlsafe_b64decode(options["user"]["id"] + "==")
        attested = (
            bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id
        ) + self._cose_key()
        auth_data = self._auth_data(UP | UV | AT, self.count, attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options_json, origin)
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal"],
                },
                "clientExtensionResults": {},
            }
        )

    def assert_(
        self,
        options_json: str,
        *,
        count: int | None = None,
        user_verified: bool = True,
        origin: str | None = None,
        user_handle: bytes | None = None,
        omit_user_handle: bool = False,
    ) -> str:
        """The answer to `navigator.credentials.get`; the counter goes up unless `count`. It
        names the user it was registered for, as a discoverable credential does, unless
        `omit_user_handle` (or `user_handle` names another)."""
        if user_handle is None and not omit_user_handle:
            user_handle = self.user_handle
        if count is None:
            self.count += 1
            count = self.count
        auth_data = self._auth_data(UP | (UV if user_verified else 0), count)
        client_data = self._client_data("webauthn.get", options_json, origin)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(user_handle) if user_handle is not None else None,
                },
                "clientExtensionResults": {},
            }
        )
