"""The approving side of number matching: on every signed-in page, a live dialog for each
sign-in of this account waiting for approval (see services/approvals.py).

A background watcher per tab waits in `approval_hub`, which asks the database once a second
for every waiting tab of the process at once (any instance may have taken the request, so
the database is the meeting point). The numbers offered live in this
process's memory (`secret_cache`), never in the tab's state; the state holds a random ref.
"""

from __future__ import annotations

import secrets
from typing import Any

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.services import approvals, user_agents
from rxapp.services.clock import utcnow
from rxapp.services.sessions import SignedIn
from rxapp.state import approval_hub, browser_tokens, secret_cache, task_leases
from rxapp.state.auth import AuthState, SignedOut
from rxapp.whole_numbers import parse_whole

# The watcher renews its lease (and sees a lost state) this often while nothing changes;
# the lease outlives a renewal by far, so a second watcher of the tab starts in this
# process only once the first is gone.
RENEW_LEASE_SECONDS = 5.0
LEASE_SECONDS = RENEW_LEASE_SECONDS * 3


_DECISIONS_TOLD = {
    "approved": "Sign-in approved.",
    "denied": "Sign-in denied. Nobody was signed in.",
    "mismatched": (
        "That was not the number on the signing-in screen, so nobody was signed in. "
        "If you are not signing in, someone may know your password."
    ),
    "paused": (
        "Nobody was signed in: after too many wrong codes or refused approvals, approvals "
        "of this account are paused for now. If you are not signing in, someone may know "
        "your password."
    ),
}


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
    _watch_owner: str = ""  # the watcher (and its process) that holds the lease

    @rx.var(cache=False)
    def choices(self) -> list[dict[str, str]]:
        """The three numbers offered, for the proven connection only."""
        if not self.open or not self._proven_session():
            return []
        return list(secret_cache.get(self._key) or [])

    @rx.var(cache=False)
    def offer(self) -> str:
        """Which offer of numbers is on screen (answers name it: see `choose`)."""
        choices = self.choices
        return choices[0]["salt"] if choices else ""

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
        approval_hub.nudge()  # the account's other tabs here close it at once
        self._close()
        if isinstance(decision, SignedOut):
            return self._to_login()
        told = _DECISIONS_TOLD.get(decision)
        if told is None:
            return rx.toast("That request was already answered or has expired.")
        return [rx.toast(told), *self._show_in_activity()]

    def _show_in_activity(self) -> list[Any]:
        """On the profile, its "Recent security activity" reads the decision just made."""
        from rxapp.state.profile import ProfileState  # it imports this module

        on_profile = self.router.url.path.rstrip("/") == routes.PROFILE
        return [ProfileState.refresh] if on_profile else []

    @rx.event
    async def choose(self, number: str, shown: str = "") -> Any:
        """Approve if `number` is the one the waiting page shows (else deny). `shown` names
        the request the button belonged to: a click on the numbers of a request that was
        just replaced by a newer one decides nothing."""
        chosen = parse_whole(number, max_digits=3)
        if chosen is None:
            return None
        if changed := self._changed_since(shown):
            return changed
        return await self._decide(chosen)

    @rx.event
    async def deny(self, shown: str = "") -> Any:
        """Refuse the sign-in (`shown`: as for `choose`)."""
        if changed := self._changed_since(shown):
            return changed
        return await self._decide(None)

    def _changed_since(self, shown: str) -> Any:
        """The message when an answer given to the offer `shown` (its salt) came as another
        request took its place; None when it is the one on screen (or when this process
        never showed it: a tab moved from a lost instance answers by the request's ref)."""
        offered = secret_cache.get(self._key)
        if offered and shown != offered[0]["salt"]:
            return rx.toast("That request changed just as you answered. Look at it again.")
        return None

    @rx.event(background=True)
    async def watch(self) -> Any:
        """While this tab is signed in, show each request of the account at once."""
        async with self:
            now = utcnow().timestamp()
            me = task_leases.claim(self._watch_owner, self._watch_lease, now=now)
            if me is None:
                return None  # already watched here
            self._watch_owner = me
            self._watch_lease = now + LEASE_SECONDS
        try:
            shown: tuple[str, ...] | None = None  # what the tab shows is checked at once
            while True:
                async with self:
                    # Only a state the store lost and made anew has no checked session: every
                    # page that starts this watcher checked it, and a sign-out here checks it
                    # too (signed out). Also when the loss came before this watcher's first
                    # round (it then found the state made anew, and named itself in it).
                    state_lost = not self.session_checked
                    # A tab gone from this process ends its lease under the lock that a
                    # reconnect's on_load takes to start a new watcher: never none, never two.
                    stop = not task_leases.keeps(self._watch_owner, me, self._tab())
                    if not stop:
                        self._watch_lease = utcnow().timestamp() + LEASE_SECONDS
                    elif self._watch_owner == me:
                        self._watch_lease = 0.0
                    digest = self._proven_session()
                    # Signed out in another tab of this browser (its synced token cleared
                    # this tab's proof) before the poll saw the session end.
                    signed_out = not stop and not digest and shown is not None
                    if signed_out:
                        self._close()
                if state_lost:
                    return browser_tokens.present_again()
                if signed_out:
                    return self._to_login()
                if stop or not digest:
                    return None
                found = await approval_hub.next_change(digest, shown, timeout=RENEW_LEASE_SECONDS)
                if found is approval_hub.QUIET:
                    continue
                async with self:
                    now_proven = self._proven_session()
                    if now_proven and now_proven != digest:
                        continue  # signed in again meanwhile: that session is watched next
                    # Signed out elsewhere (another tab of this browser, an admin, the idle
                    # limit): the tab stops showing the account, and any request.
                    signed_out = found is None or not now_proven
                    if signed_out:
                        self._close()
                    else:
                        gone = all(p.ref != self._ref for p in found)
                        # Its numbers live in the memory of the process that showed it: after
                        # a move to this one (a lost instance), it is shown again from here.
                        elsewhere = secret_cache.get(self._key) is None
                        if self._ref and (gone or elsewhere):
                            self._close()
                        if not self._ref and found:
                            self._show(found[0])
                if signed_out:
                    return self._to_login()
                shown = tuple(p.ref for p in found)
        finally:
            task_leases.stop(me)
            async with self:
                if self._watch_owner == me:
                    self._watch_lease = 0.0
