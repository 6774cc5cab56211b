"""Approving a sign-in from a device that is already signed in, with number matching.

The passcode page asks; every live session of the account that itself passed a second
factor is shown where the request comes from and three numbers, one of which the waiting
page shows. Picking that number approves (the waiting page then signs in); another number
or Deny ends the request and counts as a second-factor failure. Against push fatigue the
approver must read the number off the other screen: a tap on a prompt nobody asked for
approves only by luck (one in three), so the account's code throttle holds approvals as
it holds codes. While it makes the account wait (the backoff, the lockout, the cap),
nothing is asked and a right number approves nothing. Each decision is one conditional
UPDATE: one decision per request, on any instance. Requests expire after two minutes, one
may be open per pending login, a pending login may ask at most five times, ten seconds
apart, and the account's other sign-ins (each password step makes one) may have three
requests open at most and ten not approved (open, denied, mismatched, expired or left by
a sign-in given up) in any ten minutes, counted under a hold on the account's row. A
stranger with the password who uses up that window keeps the owner from approving for
those minutes, not from signing in with a code.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import update
from sqlmodel import Session, col, select

from rxapp.models import AuthSession, PendingLogin, SignInApproval, User
from rxapp.services import audit, secretbox, sessions, throttle, user_agents
from rxapp.services.account_lock import hold_account
from rxapp.services.mfa.common import audit_thresholds, plural
from rxapp.services.sessions import SignedIn

LIFETIME = timedelta(minutes=2)
MIN_INTERVAL = timedelta(seconds=10)
MAX_REQUESTS = 5
MAX_OPEN_PER_ACCOUNT = 3
# Requests not approved (denied, expired, or left by a sign-in given up), across sign-ins: a
# stranger with the password who starts over and over cannot keep the devices prompting.
# Approved ones do not count: the owner signing in again and again is never refused.
MAX_PER_ACCOUNT_WINDOW = 10
ACCOUNT_WINDOW = timedelta(minutes=10)
CHOICES = 3


@dataclass(frozen=True)
class Request:
    """A request as the waiting page shows it (the number in clear only here)."""

    ref: str
    number: int
    expires_at: datetime


@dataclass(frozen=True)
class Prompt:
    """A request as an approving device shows it: where from, and three numbers."""

    ref: str
    choices: list[int]
    created_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str


def _challenge(approval: SignInApproval) -> dict[str, object]:
    plaintext = secretbox.decrypt(approval.challenge)
    return json.loads(plaintext) if plaintext else {"number": -1, "choices": []}


def can_ask(db: Session, pending: PendingLogin, *, now: datetime) -> bool:
    """Whether the account has a live session that passed a second factor to ask."""
    idle = timedelta(seconds=sessions.idle_seconds())
    found = db.exec(
        select(AuthSession.id)
        .join(User, col(User.id) == AuthSession.user_id)
        .where(
            col(AuthSession.user_id) == pending.user_id,
            sessions.current_epoch(AuthSession),
            col(AuthSession.revoked_at).is_(None),
            col(AuthSession.second_factor_at).is_not(None),
            col(AuthSession.expires_at) > now,
            col(AuthSession.last_seen_at) > now - idle,
        )
    ).first()
    return found is not None


PAUSED = (
    "Too many wrong codes or refused approvals on this account: approvals are paused. Use a "
    "backup code, or ask an admin to reset two-factor authentication."
)


def paused(db: Session, user_id: int, *, now: datetime) -> bool:
    """Whether the account's code throttle holds approvals now: at the cap or in a lockout
    (a short backoff does not: the owner who denies a stranger's request may approve their
    own at once)."""
    return bool(db.exec(select(throttle.account_held(user_id, now))).one())


def ask(
    db: Session, pending: PendingLogin, *, now: datetime, ip: str = "", user_agent: str = ""
) -> Request | str:
    """Open a request for `pending` (commits), or say why not."""
    if not can_ask(db, pending, now=now):
        return "No signed-in device can approve this sign-in. Use a code instead."
    if paused(db, pending.user_id, now=now):
        return PAUSED
    if wait := throttle.seconds_to_wait(db, pending.user_id, now=now):
        return throttle.wait_message(wait)
    # The limits below count, then insert: two asks at once must not both pass them.
    hold_account(db, pending.user_id)
    previous = db.exec(
        select(SignInApproval)
        .where(col(SignInApproval.pending_login_id) == pending.id)
        .order_by(col(SignInApproval.id).desc())
    ).all()
    refusal = _refusal(db, pending, previous, now=now)
    if isinstance(refusal, Request) or refusal:
        db.rollback()  # nothing written: the account's row is let go
        return refusal
    number = 10 + secrets.randbelow(90)
    decoys: set[int] = set()
    while len(decoys) < CHOICES - 1:
        decoy = 10 + secrets.randbelow(90)
        if decoy != number:
            decoys.add(decoy)
    choices = sorted([number, *decoys])
    approval = SignInApproval(
        ref=secrets.token_urlsafe(24),
        pending_login_id=pending.id,
        user_id=pending.user_id,
        created_at=now,
        expires_at=now + LIFETIME,
        challenge=secretbox.encrypt(json.dumps({"number": number, "choices": choices})),
        requester_ip=ip[:64],
        requester_user_agent=user_agent[:255],
    )
    db.add(approval)
    audit.record(db, audit.Event.APPROVAL_REQUESTED, now=now, user_id=pending.user_id)
    db.commit()
    return Request(ref=approval.ref, number=number, expires_at=approval.expires_at)


def _refusal(
    db: Session, pending: PendingLogin, previous: list[SignInApproval], *, now: datetime
) -> Request | str:
    """The open request to show again, or why no new one may be made ("" when it may)."""
    if previous and previous[0].status == "open" and previous[0].expires_at > now:
        latest = previous[0]
        number = int(_challenge(latest)["number"])  # type: ignore[call-overload]
        return Request(ref=latest.ref, number=number, expires_at=latest.expires_at)
    if len(previous) >= MAX_REQUESTS:
        return "Too many approval requests for this sign-in. Use a code instead."
    if previous and now - previous[0].created_at < MIN_INTERVAL:
        wait = int((MIN_INTERVAL - (now - previous[0].created_at)).total_seconds()) + 1
        return f"Wait {plural(wait, 'second')} before asking again."
    # Each password step makes a new pending login with requests of its own: the account's
    # devices are never shown more than a few at once, nor many in a while.
    if _open_elsewhere(db, pending, now=now) >= MAX_OPEN_PER_ACCOUNT:
        return "Other sign-ins to this account are waiting for approval. Use a code instead."
    if _unapproved_lately(db, pending.user_id, now=now) >= MAX_PER_ACCOUNT_WINDOW:
        return "Too many approval requests for this account lately. Use a code instead."
    return ""


def _unapproved_lately(db: Session, user_id: int, *, now: datetime) -> int:
    """The account's requests made within `ACCOUNT_WINDOW`, for any sign-in, that were not
    approved (open, denied, mismatched or expired)."""
    return db.exec(
        select(sa.func.count())
        .select_from(SignInApproval)
        .where(
            col(SignInApproval.user_id) == user_id,
            col(SignInApproval.created_at) > now - ACCOUNT_WINDOW,
            col(SignInApproval.status) != "approved",
        )
    ).one()


def _open_elsewhere(db: Session, pending: PendingLogin, *, now: datetime) -> int:
    """The account's requests still open for its other live sign-ins."""
    return db.exec(
        select(sa.func.count())
        .select_from(SignInApproval)
        .join(PendingLogin, col(PendingLogin.id) == SignInApproval.pending_login_id)
        .where(
            col(SignInApproval.user_id) == pending.user_id,
            col(SignInApproval.pending_login_id) != pending.id,
            col(SignInApproval.status) == "open",
            col(SignInApproval.expires_at) > now,
            col(PendingLogin.ended_at).is_(None),
            col(PendingLogin.expires_at) > now,
        )
    ).one()


def _of_pending(db: Session, ref: str, pending_id: int) -> SignInApproval | None:
    return db.exec(
        select(SignInApproval).where(
            col(SignInApproval.ref) == ref, col(SignInApproval.pending_login_id) == pending_id
        )
    ).first()


def outcome(db: Session, ref: str, pending_id: int, *, now: datetime) -> str:
    """ "open", "approved", "denied", "mismatched" or "expired", for the waiting page of
    `pending_id`."""
    approval = _of_pending(db, ref, pending_id)
    if approval is None:
        return "expired"
    if approval.status == "open" and now >= approval.expires_at:
        return "expired"
    return approval.status


def consume(db: Session, ref: str, pending_id: int, *, now: datetime) -> bool:
    """Spend an approved request and end its pending login, once (the caller starts the
    session and commits)."""
    spent = db.exec(
        update(SignInApproval)
        .where(
            col(SignInApproval.ref) == ref,
            col(SignInApproval.pending_login_id) == pending_id,
            col(SignInApproval.status) == "approved",
            col(SignInApproval.consumed_at).is_(None),
        )
        .values(consumed_at=now)
    )
    if spent.rowcount != 1:
        db.rollback()
        return False
    if not sessions.end_pending_login(db, pending_id, now=now):
        db.rollback()
        return False
    return True


def prompts_for(db: Session, signed_in: SignedIn, *, now: datetime) -> list[Prompt]:
    """Open requests this session may decide (it passed a second factor itself)."""
    return open_prompts(db, [signed_in], now=now).get(signed_in.session.id, [])


def open_prompts(
    db: Session, signed_ins: Iterable[SignedIn], *, now: datetime
) -> dict[int | None, list[Prompt]]:
    """`prompts_for` each of `signed_ins` in one query, by session id (newest first)."""
    deciding = [s for s in signed_ins if s.session.second_factor_at is not None]
    accounts = {s.user.id for s in deciding}
    if not accounts:
        return {}
    rows = db.exec(
        select(SignInApproval)
        .join(PendingLogin, col(PendingLogin.id) == SignInApproval.pending_login_id)
        .where(
            col(SignInApproval.user_id).in_(sorted(accounts)),  # type: ignore[type-var]
            col(SignInApproval.status) == "open",
            col(SignInApproval.expires_at) > now,
            # A sign-in abandoned, voided or ended by a reset asks nothing any more.
            col(PendingLogin.ended_at).is_(None),
            col(PendingLogin.expires_at) > now,
        )
        .order_by(col(SignInApproval.id).desc())
    ).all()
    by_account: dict[int, list[Prompt]] = {}
    for row in rows:
        by_account.setdefault(row.user_id, []).append(
            Prompt(
                ref=row.ref,
                choices=list(_challenge(row)["choices"]),  # type: ignore[arg-type]
                created_at=row.created_at,
                expires_at=row.expires_at,
                ip=row.requester_ip,
                user_agent=row.requester_user_agent,
            )
        )
    return {s.session.id: list(by_account.get(s.user.id, [])) for s in deciding}


def decide(db: Session, ref: str, signed_in: SignedIn, choice: int | None, *, now: datetime) -> str:
    """Decide a request with the number picked (None: Deny), once; commits. Returns
    "approved", "denied" (Deny), "mismatched" (a wrong number: nobody signed in either),
    "paused" (the right number while the code throttle holds the account: denied) or
    "gone" (decided, expired, not ours)."""
    if signed_in.session.second_factor_at is None:
        return "gone"
    approval = db.exec(
        select(SignInApproval).where(
            col(SignInApproval.ref) == ref, col(SignInApproval.user_id) == signed_in.user.id
        )
    ).first()
    pending = db.get(PendingLogin, approval.pending_login_id) if approval else None
    if approval is None or pending is None or pending.ended_at is not None:
        return "gone"
    right = choice is not None and choice == _challenge(approval)["number"]
    status = "approved" if right else "denied" if choice is None else "mismatched"
    still_open = [
        col(SignInApproval.id) == approval.id,
        col(SignInApproval.status) == "open",
        col(SignInApproval.expires_at) > now,
    ]
    decided_by = {"decided_at": now, "decided_by_session_id": signed_in.session.id}
    # An approval only while the throttle does not hold the account, in the same statement
    # (a failure committed by a check elsewhere a moment before is seen).
    condition = (
        [*still_open, ~throttle.account_held(approval.user_id, now)] if right else still_open
    )
    decided = (
        db.exec(
            update(SignInApproval).where(*condition).values(status=status, **decided_by)
        ).rowcount
        == 1
    )
    held = False
    if not decided and right:
        # Held back by the throttle (or gone): end it as denied, so no device shows it more.
        denied = update(SignInApproval).where(*still_open).values(status="denied", **decided_by)
        held = decided = db.exec(denied).rowcount == 1
    if not decided:
        db.rollback()
        return "gone"
    requester = user_agents.describe(approval.requester_user_agent)
    detail = (
        f"requested from {approval.requester_ip or 'unknown address'} ({requester}); "
        f"decided by session {signed_in.session.id}"
    )
    if held:  # denied, as the throttle holds the account; not a failure of its own
        audit.record(
            db,
            audit.Event.APPROVAL_DENIED,
            now=now,
            user_id=approval.user_id,
            detail=f"paused by the code throttle; {detail}",
        )
        db.commit()
        return "paused"
    if right:
        audit.record(
            db, audit.Event.APPROVAL_GRANTED, now=now, user_id=approval.user_id, detail=detail
        )
    else:
        reason = "deny" if choice is None else "wrong number"
        audit.record(
            db,
            audit.Event.APPROVAL_DENIED,
            now=now,
            user_id=approval.user_id,
            detail=f"{reason}; {detail}",
        )
        # On the account's key: nothing vouches for the browser that asked.
        failure = throttle.record_failure(db, approval.user_id, now=now)
        audit_thresholds(db, approval.user_id, failure, now=now, browser=audit.NEW_BROWSER)
    db.commit()
    return status
