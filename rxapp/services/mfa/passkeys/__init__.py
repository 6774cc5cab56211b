"""Passkeys (WebAuthn, with py_webauthn): a phishing-resistant second factor, and a way to
sign in with a passkey alone.

- `ceremony`: the algorithm: options for the browser and verification of its answers,
  through py_webauthn only (no CBOR, COSE or attestation parsing here). Pure.
- `challenges`: single-use, two-minute challenges kept in the database, bound to a session,
  a pending login or a connection (by digest), spent by one atomic DELETE.
- `store`: the account's passkeys (list, add, rename, remove, counter update).
- `flows`: registration, the second step, sign-in without a password; audited and throttled.
"""
