"""The approving side of number matching: on every signed-in page, a live dialog for each
sign-in of this account waiting for approval (see services/approvals.py).

A background watcher per tab asks the database once a second (any instance may have taken
the request, so the database is the meeting point). The numbers offered live in this
process's memory (`secret_cache`), never in the tab's state; the state holds a random ref.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import reflex as rx
from sqlmodel import Session

from rxapp.services import approvals, sessions, user_agents
from rxapp.services.clock import utcnow
from rxapp.services.sessions import SignedIn
from rxapp.state import browser_tokens, secret_cache
from rxapp.state.auth import AuthState, SignedOut
from rxapp.state.offloop import run_db

WATCH_EVERY_SECONDS = 1.0


class ApprovalState(AuthState):
    """A sign-in elsewhere asks this signed-in device to approve it."""

    open: bool = False
    where: str = ""
    when: str = ""
    result: str = ""
    _ref: str = ""
    # This tab's own key to the numbers in `secret_cache` (random: tabs never share one).
    _key: str = ""
    _watch_lease: float = 0.0

    @rx.var(cache=False)
    def choices(self) -> list[dict[str, str]]:
        """The three numbers offered, for the proven connection only."""
        if not self.open or not self._proven_session():
            return []
        return list(secret_cache.get(self._key) or [])

    def _show(self, prompt: approvals.Prompt) -> None:
        salt = secrets.token_hex(8)  # so the delta bookkeeping keeps no guessable digest
        self._key = f"approval-choices:{secrets.token_urlsafe(18)}"
        secret_cache.put(
            self._key,
            [{"number": str(n), "salt": salt} for n in prompt.choices],
            until=prompt.expires_at,
        )
        self._ref = prompt.ref
        browser = user_agents.describe(prompt.user_agent)
        self.where = f"{prompt.ip or 'an unknown address'}, {browser}"
        self.when = prompt.created_at.strftime("%H:%M:%S UTC")
        self.result = ""
        self.open = True

    def _close(self) -> None:
        secret_cache.drop(self._key)
        self._key = ""
        self._ref = ""
        self.open = False

    async def _decide(self, number: int | None) -> Any:
        ref = self._ref
        if not ref:
            return None

        def decide(db: Session, signed_in: SignedIn) -> str:
            return approvals.decide(db, ref, signed_in, number, now=utcnow())

        decision = await self._as_user(decide)
        self._close()
        if isinstance(decision, SignedOut):
            return self._to_login()
        if decision == "approved":
            return rx.toast("Sign-in approved.")
        if decision == "denied":
            return rx.toast("Sign-in denied. Nobody was signed in.")
        return rx.toast("That request was already answered or has expired.")

    @rx.event
    async def choose(self, number: str) -> Any:
        """Approve if `number` is the one the waiting page shows (else deny)."""
        if not number.isdigit() or len(number) > 3:
            return None
        return await self._decide(int(number))

    @rx.event
    async def deny(self, _open: object = False) -> Any:
        """Refuse the sign-in."""
        return await self._decide(None)

    @rx.event(background=True)
    async def watch(self) -> Any:
        """While this tab is signed in, show each request of the account at once."""
        async with self:
            now = utcnow().timestamp()
            if self._watch_lease > now:
                return None
            self._watch_lease = now + WATCH_EVERY_SECONDS * 3
        try:
            while True:
                async with self:
                    # Only a state the store lost and made anew has neither a lease while
                    # watched nor a checked session (a sign-out here checks it: signed out).
                    state_lost = not self._watch_lease and not self.session_checked
                    digest = self._proven_session()
                    shown = self._ref
                    self._watch_lease = utcnow().timestamp() + WATCH_EVERY_SECONDS * 3
                if state_lost:
                    return browser_tokens.present_again()
                if not digest:
                    return None
                found = await run_db(lambda db, d=digest: _prompts(db, d))
                if found is None:
                    return None
                async with self:
                    if shown and all(p.ref != shown for p in found):
                        self._close()
                    if not self._ref and found:
                        self._show(found[0])
                await asyncio.sleep(WATCH_EVERY_SECONDS)
        finally:
            async with self:
                self._watch_lease = 0.0


def _prompts(db: Session, digest: str) -> list[approvals.Prompt] | None:
    """Open requests for the session behind `digest`, or None when it is gone."""
    signed_in = sessions.session_by_digest(db, digest, now=utcnow(), touch=False)
    if signed_in is None:
        return None
    return approvals.prompts_for(db, signed_in, now=utcnow())
