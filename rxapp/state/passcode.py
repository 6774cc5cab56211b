"""PasscodeState: the second step of signing in, with a TOTP or backup code."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.models import PendingLogin, User
from rxapp.services import approvals, audit, sessions, throttle
from rxapp.services.clock import utcnow
from rxapp.services.emails import masked_email
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.passkeys import challenges as passkey_challenges
from rxapp.services.mfa.passkeys import flows as passkey_flows
from rxapp.services.mfa.passkeys import store as passkey_store
from rxapp.services.mfa.totp import algorithm as totp
from rxapp.services.mfa.totp import flows as totp_flows
from rxapp.state import approval_hub, browser_tokens, secret_cache, task_leases
from rxapp.state import passkeys as browser
from rxapp.state.auth import AuthState, SignedOut, begin_session
from rxapp.state.display import admin_changes_notice, day_in_words
from rxapp.state.offloop import run_db
from rxapp.state.profile import AccountView, account_for_token, show_account_now

_APPROVAL_ENDED = {
    "denied": "The sign-in was denied on your other device. Ask again, or use a code.",
    "mismatched": (
        "The number picked on your other device did not match this one, so the sign-in was "
        "not approved. Ask again, or use a code."
    ),
    "expired": "The request expired before anyone answered. Ask again, or use a code.",
}


# The browser's tokens are shared by its tabs: a sign-in started or finished in another tab
# replaces the one this page shows. Nothing sent for the earlier one is checked then.
ANOTHER_SIGN_IN = (
    "This browser started another sign-in in another tab, as {hint}: this page now "
    "continues that one. Nothing you entered here was checked. Enter a code for {hint}."
)
# What the sign-in page says when a step of this one finds it over (it lasts 5 minutes, and
# ends with a password change, an admin's reset or too many wrong codes).
SIGN_IN_ENDED = "Your sign-in expired or was ended. Enter your email and password again."
SIGNED_IN_ELSEWHERE = (
    "This browser signed in as {email} in another tab: the sign-in this page was "
    "continuing has ended."
)


@dataclass(frozen=True)
class _ApprovalOutcome:
    """Where an approval request stands, as the waiting page learns it."""

    kind: str
    user: User | None = None
    session_token: str = ""


@dataclass(frozen=True)
class _Outcome:
    """What the passcode step decided (computed in a worker thread)."""

    check: mfa.CodeCheck
    user: User | None = None
    session_token: str = ""
    failed_codes: audit.FailedCodes | None = None
    account: AccountView | None = None
    # What an admin changed on the account since its last sign-in (told on arrival).
    admin_changes: str = ""


@dataclass(frozen=True)
class PendingView:
    """What the code page shows about a pending login."""

    hint: str  # the account's email, masked
    approval_available: bool
    passkey_available: bool
    app_available: bool  # an authenticator app is set up (else: passkeys and backup codes)
    # A wait for codes still running from earlier failures (an ended sign-in's, say),
    # long enough to tell: a code sent before it is over would be refused.
    wait_seconds: int = 0


def pending_view(db: Session, pending: PendingLogin, device: str = "") -> PendingView:
    """The code page's data for a live pending login, in this browser (`device`, a device
    digest) (in a worker thread)."""
    now = utcnow()
    user = db.get(User, pending.user_id)
    hint = masked_email(user.email) if user else ""
    wait = mfa.code_wait(db, pending.user_id, now=now, device=device)
    return PendingView(
        hint,
        approvals.can_ask(db, pending, now=now),
        passkey_store.count(db, pending.user_id) > 0,
        user is not None and totp_flows.is_enabled(user),
        wait if wait >= mfa.NOTICEABLE_WAIT_SECONDS else 0,
    )


class PasscodeState(AuthState):
    """Only a live pending login proved on this connection may use this page."""

    error: str = ""
    # The wait `error` tells of after a code, counted down on the page (see widgets).
    wait_seconds: int = 0
    # Submissions of the form answered: the submit button is busy until this changes
    # (components/early_submit.py), with no round trip of its own.
    answers: int = 0
    # The code was right: the button shows progress until the profile replaces the form.
    leaving: bool = False
    # Which account is being verified, masked (`a…@example.com`); "" until the server
    # has confirmed the pending sign-in.
    account_hint: str = ""
    # The sign-in ended after too many wrong codes: the form gives way to a way back.
    voided: bool = False
    # The account has passkeys: offer "Use a passkey".
    passkey_available: bool = False
    passkey_waiting: bool = False
    # An authenticator app is set up: the page speaks of its codes.
    app_available: bool = True
    # Approval from a signed-in device (number matching, see services/approvals.py).
    approval_available: bool = False
    approval_waiting: bool = False
    approval_seconds: int = 0
    approval_message: str = ""
    _approval_ref: str = ""
    _approval_key: str = ""  # this tab's own key to the number in `secret_cache`
    _approval_deadline: float = 0.0
    _approval_lease: float = 0.0
    _approval_owner: str = ""  # the waiter (task_leases) that holds the lease
    # The pending login (its digest) whose form this page shows.
    _shown_pending: str = ""

    @rx.var(cache=False)
    def approval_number(self) -> dict[str, str]:
        """The number to pick on the other device, for the proven connection only."""
        proof = self._proof()
        if not self.approval_waiting or proof is None or not proof.pending_digest:
            return {"number": "", "salt": ""}
        return secret_cache.get(self._approval_key) or {"number": "", "salt": ""}

    def _back_to_login(self) -> list[rx.event.EventSpec]:
        self._pending_digest = ""
        return [
            browser_tokens.prove_again_or_forget(token_key=browser_tokens.PENDING_KEY),
            rx.redirect(routes.LOGIN, replace=True),
        ]

    def _sign_in_ended(self) -> list[rx.event.EventSpec]:
        """Back to the password step, saying why: what the person just did found this
        sign-in over."""
        self._tell(SIGN_IN_ENDED)
        return self._back_to_login()

    def _gone(self) -> list[rx.event.EventSpec]:
        """Back to the password step, saying why when this page was showing a sign-in of
        this browser that is over now (not when it never showed one)."""
        if self.account_hint and not self.leaving:
            return self._sign_in_ended()
        return self._back_to_login()

    def _show_new_pending(self, view: PendingView) -> None:
        """Show the form for a pending login just started: nothing of an earlier one's
        request for approval carries over."""
        self._approval_done("")
        self._show_pending(view)

    def _show_pending(self, view: PendingView) -> None:
        """Show the form for the pending login this connection proved (with the wait for
        codes, if one is running: told and counted down, before a code is refused for it)."""
        if self.notice == SIGN_IN_ENDED:  # said on the way out, wrong now (a reload re-proved it)
            self.notice = ""
        self.error = throttle.wait_message(view.wait_seconds) if view.wait_seconds else ""
        self.wait_seconds = view.wait_seconds
        self.voided = False
        self.leaving = False
        self.account_hint = view.hint
        self.approval_available = view.approval_available
        self.passkey_available = view.passkey_available
        self.app_available = view.app_available
        self.passkey_waiting = False
        self.session_checked = True
        self._shown_pending = self._pending_digest

    def _moved_on(self) -> bool:
        """Whether this browser's sign-in is no longer the one the page shows (another tab
        started a new one, or finished signing in)."""
        if self.voided or self.leaving:  # its own sign-in ended, or succeeded: nothing to follow
            return False
        proof = self._proof()
        return (proof.pending_digest if proof else "") != self._shown_pending

    async def _follow_the_browser(self) -> list[rx.event.EventSpec]:
        """Show the browser's sign-in as it is now, with why the page changed."""
        device = self._device_digest
        found = await self._as_pending(lambda db, pending: pending_view(db, pending, device))
        if not isinstance(found, SignedOut):
            self._show_new_pending(found)
            self.error = ANOTHER_SIGN_IN.format(hint=found.hint)
            return []
        email = await self._as_user(lambda _db, signed_in: signed_in.user.email)
        if not isinstance(email, SignedOut):
            self._tell(SIGNED_IN_ELSEWHERE.format(email=email))
            return [rx.redirect(routes.PROFILE, replace=True)]
        self.error = ""
        return self._gone()

    @rx.event
    async def refresh(self) -> list[rx.event.EventSpec]:
        """The person came back to this tab: follow a sign-in another tab started or
        finished meanwhile."""
        return await self._follow_the_browser() if self._moved_on() else []

    @rx.event
    async def open_passcode(self) -> list[rx.event.EventSpec] | None:
        """on_load: without a pending login, back to the password step."""
        device = self._device_digest
        found = self._take_arrival(routes.PASSCODE) or await self._as_pending(
            lambda db, pending: pending_view(db, pending, device)
        )
        if isinstance(found, SignedOut):
            self.error = ""
            self.voided = False
            events = self._gone()
            self.account_hint = ""
            return events
        self._show_pending(found)
        if self.approval_waiting and self._approval_ref:
            return [PasscodeState.wait_for_approval]  # a reconnect: keep waiting
        return None

    @rx.event
    async def request_approval(self) -> Any:
        """Ask the account's signed-in devices to approve this sign-in."""
        if self._moved_on():
            return await self._follow_the_browser()
        where = self._origin()

        def ask(db: Session, pending: PendingLogin) -> approvals.Request | str:
            return approvals.ask(
                db, pending, now=utcnow(), ip=where.ip, user_agent=where.user_agent
            )

        made = await self._as_pending(ask)
        if isinstance(made, SignedOut):
            return self._sign_in_ended()
        if isinstance(made, str):
            self.approval_message = made
            return None
        self._approval_key = f"approval-number:{secrets.token_urlsafe(18)}"
        secret_cache.put(
            self._approval_key,
            {"number": f"{made.number:02d}", "salt": secrets.token_hex(8)},
            until=made.expires_at,
        )
        self._approval_ref = made.ref
        self._approval_deadline = made.expires_at.timestamp()
        self.approval_seconds = max(0, int(self._approval_deadline - utcnow().timestamp()))
        self.approval_message = ""
        self.approval_waiting = True
        approval_hub.nudge()
        return PasscodeState.wait_for_approval

    @rx.event(background=True)
    async def wait_for_approval(self) -> Any:
        """Wait live for the other device's decision; sign in the moment it approves."""
        async with self:
            now = utcnow().timestamp()
            me = task_leases.claim(self._approval_owner, self._approval_lease, now=now)
            if me is None:
                return
            self._approval_owner = me
            self._approval_lease = now + 3
        try:
            while True:
                async with self:
                    if not task_leases.keeps(self._approval_owner, me, self._tab()):
                        # Taken over, or gone (a reconnect's on_load starts waiting again):
                        # under the lock that on_load takes, so never none and never two.
                        if self._approval_owner == me:
                            self._approval_lease = 0.0
                        return
                    proof = self._proof()
                    digest = proof.pending_digest if proof else ""
                    ref, deadline = self._approval_ref, self._approval_deadline
                    self._approval_lease = utcnow().timestamp() + 3
                    self.approval_seconds = max(0, int(deadline - utcnow().timestamp()))
                    device_events = self._new_device_if_needed()
                    device, where = self._device_digest, self._origin()
                if not digest or not ref:
                    return
                state = await run_db(
                    partial(_approval_outcome, pending_digest=digest, ref=ref, device=device),
                    where=where,
                )
                if state.kind == "open":
                    await asyncio.sleep(0.5)
                    continue
                async with self:
                    proof = self._proof()
                    if (proof.pending_digest if proof else "") != digest or (
                        self._approval_ref != ref
                    ):
                        return  # the tab moved on (a new sign-in) while this was read
                    self._approval_done(_APPROVAL_ENDED.get(state.kind, ""))
                    if state.kind == "approved" and state.user is not None:
                        self.leaving = True
                        events = [*device_events, *self._enter(state.session_token, state.user)]
                    elif state.kind == "gone":
                        events = self._sign_in_ended()
                    else:
                        events = []
                for event in events:
                    yield event
                return
        finally:
            task_leases.stop(me)
            async with self:
                if self._approval_owner == me:
                    self._approval_lease = 0.0

    def _approval_done(self, message: str) -> None:
        secret_cache.drop(self._approval_key)
        self._approval_key = ""
        self._approval_ref = ""
        self.approval_waiting = False
        self.approval_seconds = 0
        self.approval_message = message

    @rx.event
    async def submit(self, form: dict) -> list[rx.event.EventSpec]:
        """Check the code; start the full session, or explain what went wrong."""
        self.answers += 1
        self.wait_seconds = 0
        if self._moved_on():
            return await self._follow_the_browser()
        code = form.get("code")
        device = self._proven_device()
        return await self._second_step(
            lambda db, pending: mfa.verify_login_code(
                db, pending, code, now=utcnow(), device=device
            ),
            heavy=totp.normalize_code(code) is None,  # only a backup code verifies argon2
            patient=True,
        )

    @rx.event
    async def use_passkey(self) -> Any:
        """Ask the browser for one of this account's passkeys (options from the server)."""
        if self._moved_on():
            return await self._follow_the_browser()
        rp = browser.relying_party(self.router.headers.origin)
        proof = self._proof()
        digest = proof.pending_digest if proof else ""
        if rp is None:
            self.error = browser.UNAVAILABLE
            return None

        def begin(db: Session, pending: PendingLogin) -> str:
            bound = passkey_challenges.binding("pending", digest)
            return passkey_flows.begin_second_step(db, pending, rp, bound, now=utcnow())

        options = await self._as_pending(begin)
        if isinstance(options, SignedOut):
            return self._sign_in_ended()
        if not options:
            self.passkey_available = False
            self.error = "This account has no passkeys. Enter a code instead."
            return None
        self.error = ""
        self.passkey_waiting = True
        return browser.in_browser("get", options, PasscodeState.finish_passkey)

    @rx.event
    async def finish_passkey(self, result: str) -> list[rx.event.EventSpec]:
        """The browser's answer: the second step with a passkey."""
        self.passkey_waiting = False
        if self._moved_on():
            return await self._follow_the_browser()
        rp = browser.relying_party(self.router.headers.origin)
        proof = self._proof()
        bound = passkey_challenges.binding("pending", proof.pending_digest if proof else "")
        device = proof.device_digest if proof else ""
        if rp is None:
            self.error = browser.UNAVAILABLE
            return []
        return await self._second_step(
            lambda db, pending: passkey_flows.finish_second_step(
                db, pending, rp, bound, result, now=utcnow(), device=device
            ),
        )

    async def _second_step(
        self,
        check: Callable[[Session, PendingLogin], mfa.CodeCheck],
        *,
        heavy: bool = False,
        patient: bool = False,
    ) -> list[rx.event.EventSpec]:
        """Run the second step's `check`; start the full session, or say what went wrong.
        When `patient`, a check refused unchecked for a moment's wait (`_worth_waiting`) is
        made again once that wait is over."""
        device_events = self._new_device_if_needed()
        device = self._device_digest

        def run(db: Session, pending: PendingLogin) -> _Outcome:
            return self._check(db, pending, check, device)

        outcome = await self._as_pending(run, heavy=heavy)
        if patient and _worth_waiting(outcome):
            await asyncio.sleep(outcome.check.wait_seconds)
            outcome = await self._as_pending(run, heavy=heavy)
        if isinstance(outcome, SignedOut):
            self.error = ""
            return self._sign_in_ended()
        result = outcome.check
        if not result.ok:
            self.error = result.message
            self.wait_seconds = result.told_wait
            if result.login_voided:
                self._pending_digest = ""
                self.voided = True
                return [browser_tokens.forget(session=False)]
            return []
        self.error = ""
        self.leaving = True
        redirect = [*device_events, *self._enter(outcome.session_token, outcome.user)]
        if outcome.account is not None:
            await show_account_now(self, outcome.account)
        notices = [outcome.admin_changes] if outcome.admin_changes else []
        if outcome.failed_codes is not None:
            notices.append(_failed_codes_notice(outcome.failed_codes))
        if result.used_backup_code and result.backup_codes_left is not None:
            notices.append(_backup_notice(result.backup_codes_left))
        self._tell(" ".join(notices))
        return redirect

    def _check(
        self,
        db: Session,
        pending: PendingLogin,
        check: Callable[[Session, PendingLogin], mfa.CodeCheck],
        device: str,
    ) -> _Outcome:
        """Check the second factor and, when it holds, start the session (worker thread)."""
        result = check(db, pending)
        if not result.ok:
            return _Outcome(check=result)
        previous_sign_in = db.get(User, pending.user_id).last_sign_in_at
        failed = audit.failed_codes_since(
            db, pending.user_id, previous_sign_in, except_session=f"pending {pending.id}"
        )
        token = begin_session(
            db, pending.user_id, device, epoch=pending.credential_epoch, second_factor=True
        )
        user = db.get(User, pending.user_id)
        return _Outcome(
            check=result,
            user=user,
            session_token=token,
            failed_codes=failed,
            account=account_for_token(db, token),
            admin_changes=admin_changes_notice(
                audit.admin_changes_since(db, pending.user_id, previous_sign_in)
            ),
        )

    @rx.event
    async def start_over(self) -> list[rx.event.EventSpec]:
        """Abandon this sign-in and go back to the password step (not a sign-in another tab
        started meanwhile: that one is the other tab's to finish)."""
        replaced = self._moved_on()
        self.voided = False
        self.error = ""
        self._approval_done("")
        if replaced:  # the browser's pending token is the other tab's: kept as it is
            return [rx.redirect(routes.LOGIN, replace=True)]

        def abandon(db: Session, pending: PendingLogin) -> None:
            now = utcnow()
            sessions.end_pending_login(db, pending.id, now=now)
            audit.record(db, audit.Event.SIGN_IN_ABANDONED, now=now, user_id=pending.user_id)
            db.commit()

        await self._as_pending(abandon)
        return self._back_to_login()


def _worth_waiting(outcome: _Outcome | SignedOut) -> bool:
    """A code sent a moment too soon after a wrong one (by a person correcting a typo, say)
    was refused unchecked and uncounted, for a wait too short to be worth a message (the
    backoff after one or two wrong codes): the server waits it out and checks the code then,
    rather than ask the person to send it again."""
    if isinstance(outcome, SignedOut):
        return False
    result = outcome.check
    return (
        result.unchecked
        and not result.counted
        and 0 < result.wait_seconds < mfa.NOTICEABLE_WAIT_SECONDS
    )


def _failed_codes_notice(failed: audit.FailedCodes) -> str:
    where = f" from {failed.latest_ip}" if failed.latest_ip else ""
    when = f"{day_in_words(failed.latest_at)}, {failed.latest_at:%H:%M} UTC"
    # "failed", not "wrong": a code sent during a wait is refused unchecked, right or not.
    attempts = "code attempt" if failed.count == 1 else "code attempts"
    return (
        f"{failed.count} failed {attempts} on your account since you last signed in, the "
        f"latest on {when}{where}. If that was not you, someone knows your password."
    )


def _backup_notice(left: int) -> str:
    if left == 0:
        return "You used your last backup code. Generate new ones now."
    if left <= backup_codes.LOW:
        return f"{left} backup code{'s' if left != 1 else ''} left — generate new ones."
    return f"You signed in with a backup code; {left} are left."


def _approval_outcome(
    db: Session, *, pending_digest: str, ref: str, device: str
) -> _ApprovalOutcome:
    """Where the request stands; an approval is spent here and the session started."""
    now = utcnow()
    pending = sessions.pending_login_by_digest(db, pending_digest, now=now)
    if pending is None:
        return _ApprovalOutcome("gone")
    audit.set_session(f"pending {pending.id}")
    kind = approvals.outcome(db, ref, pending.id, now=now)
    if kind != "approved":
        return _ApprovalOutcome(kind)
    if not approvals.consume(db, ref, pending.id, now=now):
        return _ApprovalOutcome("gone")
    token = begin_session(
        db,
        pending.user_id,
        device,
        epoch=pending.credential_epoch,
        second_factor=True,
        own_code_throttle=False,
    )
    return _ApprovalOutcome("approved", db.get(User, pending.user_id), token)
