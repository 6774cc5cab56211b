"""What every page that uses passkeys shares: the relying party of this connection, the
binding of a challenge, and the call into the browser module (`assets/passkeys.js`).

The challenge itself never enters the state: it sits in the database (see
`services/mfa/passkeys/challenges`) and reaches the browser only inside the options that
this call sends over the connection that asked for them.
"""

from __future__ import annotations

import json

import reflex as rx

from rxapp.services.mfa.passkeys import ceremony, challenges
from rxapp.services.sessions import SignedIn
from rxapp.settings import get_settings

SCRIPT_SRC = "/passkeys.js"
UNAVAILABLE = "Passkeys are not available at this address. Ask your administrator."


def relying_party(served_origin: str) -> ceremony.RelyingParty | None:
    """RXAPP_ORIGIN's relying party, else the one of the address this connection reached
    (its Origin header, which http_security allowed)."""
    settings = get_settings()
    return ceremony.relying_party(settings.origin or served_origin, name=settings.issuer)


def session_binding(signed_in: SignedIn) -> str:
    """A signed-in user's passkey challenges (adding one, a fresh proof) belong to the
    session (its token digest)."""
    return challenges.binding("session", signed_in.session.token_hash)


def in_browser(kind: str, options_json: str, callback: rx.event.EventType) -> rx.event.EventSpec:
    """Run `rxappPasskeys.<kind>(options)` in the browser; its JSON answer (or error) goes
    to `callback` as one string."""
    assert kind in ("create", "get")
    literal = json.dumps(options_json)
    code = (
        f"window.rxappPasskeys ? window.rxappPasskeys.{kind}({literal})"
        ' : JSON.stringify({error: "unsupported"})'
    )
    return rx.call_script(code, callback=callback)
