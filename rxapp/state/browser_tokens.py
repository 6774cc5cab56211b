"""The browser's copies of its session and pending-login tokens (localStorage), written by
the server through one-off scripts so that the tokens never rest in Reflex state."""

from __future__ import annotations

import json

import reflex as rx

SESSION_KEY = "rxapp_session"
PENDING_KEY = "rxapp_pending"
DEVICE_KEY = "rxapp_device"


RETRIED_KEY = "rxapp_reproved"
REPROVE_AFTER_MS = 60_000


def keep_session(token: str) -> rx.event.EventSpec:
    """Store a new session token in the browser, and drop any pending-login token."""
    return rx.call_script(
        f"localStorage.setItem({json.dumps(SESSION_KEY)}, {json.dumps(token)});"
        f"localStorage.removeItem({json.dumps(PENDING_KEY)});"
        f"sessionStorage.removeItem({json.dumps(RETRIED_KEY)});"
    )


def prove_again_or_forget(*, token_key: str = SESSION_KEY) -> rx.event.EventSpec:
    """No live session on this connection. A browser that holds a token it has not
    presented on this connection (its server-side state was lost: Redis restarted, the
    state expired) reloads, so that its new connection presents it; if it reloaded for
    that less than a minute ago, the token did not prove a session and is dropped (the
    caller sends the page on)."""
    key, retried = json.dumps(token_key), json.dumps(RETRIED_KEY)
    return rx.call_script(
        f"if (localStorage.getItem({key}) &&"
        f" Date.now() - Number(sessionStorage.getItem({retried}) || 0) > {REPROVE_AFTER_MS}) {{"
        f" sessionStorage.setItem({retried}, String(Date.now())); window.location.reload(); }}"
        f" else {{ sessionStorage.removeItem({retried}); localStorage.removeItem({key}); }}"
    )


def present_again() -> rx.event.EventSpec:
    """Reload the page: its new connection presents the browser's tokens again."""
    return rx.call_script("window.location.reload()")


def keep_device(token: str) -> rx.event.EventSpec:
    """Store this browser's device token (kept across sign-outs)."""
    return rx.call_script(f"localStorage.setItem({json.dumps(DEVICE_KEY)}, {json.dumps(token)});")


def keep_pending(token: str) -> rx.event.EventSpec:
    """Store a new pending-login token in the browser."""
    return rx.call_script(f"localStorage.setItem({json.dumps(PENDING_KEY)}, {json.dumps(token)});")


def forget(*, session: bool = True, pending: bool = True) -> rx.event.EventSpec:
    """Remove the browser's tokens."""
    keys = [key for key, wanted in ((SESSION_KEY, session), (PENDING_KEY, pending)) if wanted]
    return rx.call_script("".join(f"localStorage.removeItem({json.dumps(k)});" for k in keys))
