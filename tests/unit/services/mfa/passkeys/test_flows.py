"""Passkey flows against a software authenticator: registration, the second step, sign-in
with a passkey alone, and what an attacker tries (replay, expiry, clones, other accounts).

Time is injected by passing `now`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cbor2
import pyotp
import pytest
from sqlmodel import Session, select

from rxapp.models import AuditEvent, AuthSession, Passkey, PendingLogin, User
from rxapp.services import accounts, admin, devices, sessions, throttle
from rxapp.services.mfa import flow as mfa
from rxapp.services.mfa.backup_codes import codes as backup_codes
from rxapp.services.mfa.passkeys import ceremony, challenges, flows
from rxapp.services.mfa.totp import flows as totp_flows
from rxapp.services.tokens import new_token, token_hash
from tests.unit.services.mfa.passkeys.soft_authenticator import SoftAuthenticator

pytestmark = [pytest.mark.usefixtures("secret_key"), pytest.mark.both_databases]

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
RP = ceremony.relying_party("http://localhost:3000", name="rxapp")
PASSWORD = "correct horse battery staple"
CLIENT = "203.0.113.7"


def new_user(db: Session, email: str = "alice@example.com") -> User:
    return accounts.create_user(db, email, PASSWORD, now=T0 - timedelta(days=1))


def register(
    db: Session, user: User, key: SoftAuthenticator, *, name: str = "Laptop", now: datetime = T0
) -> flows.Registered:
    bound = challenges.binding("session", f"s{user.id}")
    options, problem = flows.begin_registration(db, user, RP, bound, name, now=now)
    assert problem == ""
    return flows.finish_registration(db, user.id, RP, bound, key.register(options), now=now)


def pending_for(db: Session, user: User, *, now: datetime = T0) -> PendingLogin:
    token = sessions.start_pending_login(db, user, now=now)
    return sessions.pending_login_by_digest(db, sessions.token_hash(token), now=now)


def second_step(
    db: Session,
    pending: PendingLogin,
    answer,
    *,
    now: datetime = T0,
    later: datetime | None = None,
    device: str = "",
) -> mfa.CodeCheck:
    """Begin the second step at `now`, answer with `answer(options)` at `later`."""
    bound = challenges.binding("pending", f"p{pending.id}")
    options = flows.begin_second_step(db, pending, RP, bound, now=now)
    answered = answer(options)
    return flows.finish_second_step(
        db, pending, RP, bound, answered, now=later or now, device=device
    )


def sign_in(
    db: Session, answer, *, now: datetime = T0, later: datetime | None = None
) -> flows.SignIn:
    bound = challenges.binding("connection", "sid-1")
    options = flows.begin_sign_in(db, RP, bound, now=now)
    return flows.finish_sign_in(db, RP, bound, answer(options), now=later or now, client_ip=CLIENT)


def events(db: Session, user_id: int | None = None) -> list[str]:
    query = select(AuditEvent.event).order_by(AuditEvent.id)
    if user_id is not None:
        query = query.where(AuditEvent.user_id == user_id)
    return list(db.exec(query).all())


@pytest.fixture
def alice(db) -> User:
    return new_user(db)


@pytest.fixture
def key() -> SoftAuthenticator:
    return SoftAuthenticator()


# --- registration ----------------------------------------------------------------------------


def test_a_first_passkey_turns_two_factor_on(db, alice, key):
    result = register(db, alice, key)
    assert result.ok and result.turned_on
    db.refresh(alice)
    assert alice.twofa_active and mfa.has_second_factor(alice)
    assert not totp_flows.is_enabled(alice)  # TOTP stays off
    (row,) = db.exec(select(Passkey)).all()
    assert row.user_id == alice.id and row.name == "Laptop" and row.transports == "internal"
    assert events(db, alice.id)[-2:] == ["passkey_added", "twofa_enabled"]


def test_a_second_passkey_is_not_a_first_method(db, alice, key):
    register(db, alice, key)
    result = register(db, alice, SoftAuthenticator(), name="Phone")
    assert result.ok and not result.turned_on


def test_registration_for_another_origin_is_refused(db, alice, key):
    bound = challenges.binding("session", "s1")
    options, _ = flows.begin_registration(db, alice, RP, bound, "Laptop", now=T0)
    answer = key.register(options, origin="https://evil.example")
    result = flows.finish_registration(db, alice.id, RP, bound, answer, now=T0)
    assert not result.ok
    assert db.exec(select(Passkey)).all() == []
    assert "passkey_refused" in events(db, alice.id)


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, 42, None, "tab\tinside\x00"])
def test_a_passkey_needs_a_sensible_name(db, alice, name):
    options, problem = flows.begin_registration(db, alice, RP, "b", name, now=T0)
    assert options == "" and problem == flows.NAME_PROBLEM


# --- challenges ------------------------------------------------------------------------------


def test_a_challenge_older_than_two_minutes_is_refused(db, alice, key):
    register(db, alice, key)
    late = T0 + challenges.LIFETIME + timedelta(seconds=1)
    result = sign_in(db, key.assert_, later=late)
    assert result.user_id is None and result.message == flows.EXPIRED
    assert events(db)[-1] == "passkey_refused"


def test_a_challenge_just_under_two_minutes_old_still_works(db, alice, key):
    register(db, alice, key)
    result = sign_in(db, key.assert_, later=T0 + challenges.LIFETIME - timedelta(seconds=1))
    assert result.user_id == alice.id


def test_a_replayed_assertion_is_refused(db, alice, key):
    register(db, alice, key)
    bound = challenges.binding("connection", "sid-1")
    options = flows.begin_sign_in(db, RP, bound, now=T0)
    answer = key.assert_(options)
    assert flows.finish_sign_in(db, RP, bound, answer, now=T0, client_ip=CLIENT).user_id == alice.id
    again = flows.finish_sign_in(db, RP, bound, answer, now=T0, client_ip=CLIENT)
    assert again.user_id is None
    # Even against a fresh challenge for the same binding, the old answer does not fit.
    flows.begin_sign_in(db, RP, bound, now=T0)
    assert flows.finish_sign_in(db, RP, bound, answer, now=T0, client_ip=CLIENT).user_id is None


def test_a_challenge_is_bound_to_what_it_was_issued_for(db, alice, key):
    register(db, alice, key)
    options = flows.begin_sign_in(db, RP, challenges.binding("connection", "sid-1"), now=T0)
    other = challenges.binding("connection", "sid-2")
    result = flows.finish_sign_in(db, RP, other, key.assert_(options), now=T0, client_ip=CLIENT)
    assert result.user_id is None and result.message == flows.EXPIRED


# --- the counter -----------------------------------------------------------------------------


def test_a_counter_regression_is_refused_and_audited(db, alice, key):
    register(db, alice, key)
    assert sign_in(db, lambda o: key.assert_(o, count=10)).user_id == alice.id
    result = sign_in(db, lambda o: key.assert_(o, count=7))
    assert result.user_id is None
    (stored,) = db.exec(select(Passkey.sign_count)).all()
    assert stored == 10
    cloned = db.exec(
        select(AuditEvent).where(AuditEvent.event == "passkey_counter_regressed")
    ).one()
    assert cloned.user_id == alice.id


def test_a_repeated_counter_is_refused_too(db, alice, key):
    register(db, alice, key)
    assert sign_in(db, lambda o: key.assert_(o, count=3)).user_id == alice.id
    assert sign_in(db, lambda o: key.assert_(o, count=3)).user_id is None


def test_authenticators_without_a_counter_keep_working(db, alice, key):
    register(db, alice, key)
    assert sign_in(db, lambda o: key.assert_(o, count=0)).user_id == alice.id
    assert sign_in(db, lambda o: key.assert_(o, count=0)).user_id == alice.id


# --- sign-in with a passkey alone ------------------------------------------------------------


def test_sign_in_without_a_password_after_a_change_of_credentials_starts_a_live_session(
    db, alice, key
):
    register(db, alice, key)
    sessions.revoke_all_sessions(db, alice.id, now=T0)  # as a change of password does
    db.commit()

    result = sign_in(db, key.assert_)
    token = sessions.start_session(db, alice, now=T0, second_factor=True, epoch=result.epoch)

    assert result.user_id == alice.id
    assert sessions.current_session(db, token, now=T0) is not None


def test_sign_in_without_a_password_requires_user_verification(db, alice, key):
    register(db, alice, key)
    result = sign_in(db, lambda o: key.assert_(o, user_verified=False))
    assert result.user_id is None and result.message == flows.SIGN_IN_REFUSED


def test_sign_in_without_a_password_needs_the_credential_to_name_its_user(db, alice, key):
    register(db, alice, key)
    result = sign_in(db, lambda o: key.assert_(o, omit_user_handle=True))
    assert result.user_id is None and result.message == flows.SIGN_IN_REFUSED


def test_an_unknown_credential_cannot_sign_in(db, alice):
    result = sign_in(db, SoftAuthenticator().assert_)
    assert result.user_id is None
    assert events(db)[-1] == "passkey_refused"


def test_a_removed_passkey_cannot_sign_in(db, alice, key):
    register(db, alice, key)
    (passkey_id,) = db.exec(select(Passkey.id)).all()
    assert flows.remove(db, alice.id, passkey_id, now=T0, keep_session_id=None)
    assert sign_in(db, key.assert_).user_id is None


def test_browser_errors_are_reported_not_counted(db, alice):
    result = sign_in(db, lambda _o: '{"error":"NotAllowedError"}')
    assert result.user_id is None and result.message == flows.CANCELLED


# --- the second step -------------------------------------------------------------------------


def test_the_second_step_with_a_passkey_ends_the_pending_login(db, alice, key):
    register(db, alice, key)
    pending = pending_for(db, alice)
    assert second_step(db, pending, key.assert_).ok
    assert db.get(PendingLogin, pending.id).ended_at is not None
    assert events(db, alice.id)[-1] == "passkey_used"


def test_retrying_the_second_step_before_the_wait_is_over_never_lengthens_it(db, alice, key):
    register(db, alice, key)
    bob = new_user(db, "bob@example.com")
    register(db, bob, SoftAuthenticator())
    pending = pending_for(db, bob)
    assert second_step(db, pending, key.assert_).counted  # alice's passkey: 1 s to wait

    for _ in range(3):  # the same sign-in again at once: refused, not counted
        db.refresh(pending)
        early = second_step(db, pending, key.assert_)
        assert not early.ok and "Try again in" in early.message

    db.refresh(bob)
    assert bob.second_factor_failures == 1


def test_a_wrong_passkey_that_meets_the_accounts_lockout_points_to_the_owners_browser(
    db, alice, key
):
    register(db, alice, key)
    bob = new_user(db, "bob@example.com")
    register(db, bob, SoftAuthenticator())
    bob.second_factor_failures = throttle.LOCKOUT_AFTER - 1  # strangers' wrong codes
    db.add(bob)
    db.commit()

    refused = second_step(db, pending_for(db, bob), key.assert_)  # alice's: the 10th failure

    assert refused.counted and "15 minutes" in refused.message
    assert refused.message.endswith(mfa.ELSEWHERE_HINT)


def test_another_accounts_passkey_is_refused_in_the_second_step(db, alice, key):
    register(db, alice, key)
    bob = new_user(db, "bob@example.com")
    register(db, bob, SoftAuthenticator())
    result = second_step(db, pending_for(db, bob), key.assert_)
    assert not result.ok and result.message.startswith(flows.NOT_THIS_ACCOUNT)
    db.refresh(bob)
    assert bob.second_factor_failures == 1  # throttled like a wrong code
    # The refusal is bob's sign-in's, not alice's activity.
    assert "passkey_refused" in events(db, bob.id)
    assert "passkey_refused" not in events(db, alice.id)


def test_a_strangers_lockout_never_holds_back_the_owners_passkey_on_their_own_browser(
    db, alice, key
):
    register(db, alice, key)
    browser = token_hash(new_token())
    devices.remember(db, alice.id, browser, now=T0, second_factor=True)  # alice's, with 2FA
    alice.second_factor_failures = throttle.LOCKOUT_AFTER  # strangers' wrong codes
    alice.second_factor_blocked_until = T0 + throttle.LOCKOUT
    db.add(alice)
    db.commit()

    stranger = second_step(db, pending_for(db, alice), key.assert_)
    assert not stranger.ok and "Try again in 15 minutes" in stranger.message
    assert second_step(db, pending_for(db, alice), key.assert_, device=browser).ok


def test_an_expired_second_step_is_refused(db, alice, key):
    register(db, alice, key)
    late = T0 + challenges.LIFETIME + timedelta(seconds=1)
    result = second_step(db, pending_for(db, alice, now=T0), key.assert_, later=late)
    assert not result.ok and result.message == flows.EXPIRED


def test_an_account_without_passkeys_gets_no_options(db, alice):
    assert flows.begin_second_step(db, pending_for(db, alice), RP, "b", now=T0) == ""


# --- removing, resetting ---------------------------------------------------------------------


def test_removing_the_last_passkey_turns_two_factor_off(db, alice, key):
    register(db, alice, key)
    backup_codes.replace_batch(db, alice.id, now=T0)
    (passkey_id,) = db.exec(select(Passkey.id)).all()
    assert flows.remove(db, alice.id, passkey_id, now=T0, keep_session_id=None)
    db.refresh(alice)
    assert not alice.twofa_active
    assert backup_codes.remaining(db, alice.id) == 0
    assert events(db, alice.id)[-2:] == ["passkey_removed", "twofa_disabled"]


def test_only_the_owner_can_remove_or_rename_a_passkey(db, alice, key):
    register(db, alice, key)
    bob = new_user(db, "bob@example.com")
    (passkey_id,) = db.exec(select(Passkey.id)).all()
    assert not flows.remove(db, bob.id, passkey_id, now=T0, keep_session_id=None)
    assert flows.rename(db, bob.id, passkey_id, "Mine now", now=T0) != ""
    assert flows.rename(db, alice.id, passkey_id, "  Work   laptop ", now=T0) == ""
    assert db.exec(select(Passkey.name)).one() == "Work laptop"


def test_an_admin_reset_removes_passkeys(db, alice, key):
    register(db, alice, key)
    admin.reset_2fa(db, alice.id, now=T0, actor_id=None, via="cli")
    assert db.exec(select(Passkey)).all() == []
    db.refresh(alice)
    assert not alice.twofa_active


def test_a_first_passkey_ends_other_sessions(db, alice, key):
    kept = sessions.start_session(db, alice, epoch=alice.credential_epoch, now=T0)
    other = sessions.start_session(db, alice, epoch=alice.credential_epoch, now=T0)
    kept_row = sessions.current_session(db, kept, now=T0)
    bound = challenges.binding("session", "s")
    options, _ = flows.begin_registration(db, alice, RP, bound, "Laptop", now=T0)
    flows.finish_registration(
        db, alice.id, RP, bound, key.register(options), now=T0, keep_session_id=kept_row.session.id
    )
    assert sessions.current_session(db, kept, now=T0) is not None
    assert sessions.current_session(db, other, now=T0) is None
    assert db.exec(select(AuthSession).where(AuthSession.revoked_at.is_(None))).all()


def test_removing_a_passkey_ends_every_other_session_and_forgets_every_other_browser(
    db, alice, key
):
    register(db, alice, key)
    register(db, alice, SoftAuthenticator(), name="Phone")
    kept = sessions.start_session(db, alice, epoch=alice.credential_epoch, now=T0)
    opened_by_the_lost_phone = sessions.start_session(
        db, alice, epoch=alice.credential_epoch, now=T0
    )
    kept_id = sessions.current_session(db, kept, now=T0).session.id
    phone_id = db.exec(select(Passkey.id).where(Passkey.name == "Phone")).one()

    this_browser, lost_phone = token_hash(new_token()), token_hash(new_token())
    for browser in (this_browser, lost_phone):
        devices.remember(db, alice.id, browser, now=T0, second_factor=True)

    assert flows.remove(
        db, alice.id, phone_id, now=T0, keep_session_id=kept_id, keep_device=this_browser
    )

    db.refresh(alice)
    assert alice.twofa_active  # the laptop's passkey is left
    assert sessions.current_session(db, kept, now=T0) is not None
    assert sessions.current_session(db, opened_by_the_lost_phone, now=T0) is None
    # The lost phone's browser is a stranger now: no throttles of its own.
    assert devices.is_known(db, alice.id, this_browser)
    assert not devices.is_known(db, alice.id, lost_phone)


# --- a fresh proof -----------------------------------------------------------------------------


def test_a_passkey_is_a_fresh_proof_of_the_second_factor(db, alice, key):
    register(db, alice, key)
    token = sessions.start_session(
        db, alice, epoch=alice.credential_epoch, now=T0 - timedelta(hours=1)
    )
    signed_in = sessions.current_session(db, token, now=T0 - timedelta(hours=1))
    bound = challenges.binding("session", "s-reauth")
    options = flows.begin_reauth(db, alice.id, RP, bound, now=T0)
    assert flows.prove(db, signed_in, RP, bound, key.assert_(options), now=T0) is None
    row = db.get(AuthSession, signed_in.session.id)
    db.refresh(row)
    assert row.fresh_proof_at == T0 and row.second_factor_at == T0
    assert events(db, alice.id)[-1] == "reauth_ok"


def _bob_proves_with(db: Session, alice: User, key: SoftAuthenticator) -> tuple[User, str | None]:
    """Bob, signed in and with a passkey of his own, offers alice's passkey (`key`) as his
    fresh proof: bob, and what he is told."""
    bob = db.exec(select(User).where(User.email == "bob@example.com")).first()
    if bob is None:
        register(db, alice, key)
        bob = new_user(db, "bob@example.com")
        register(db, bob, SoftAuthenticator())
    token = sessions.start_session(db, bob, epoch=bob.credential_epoch, now=T0)
    signed_in = sessions.current_session(db, token, now=T0)
    bound = challenges.binding("session", "s-bob")
    options = flows.begin_reauth(db, bob.id, RP, bound, now=T0)
    return bob, flows.prove(db, signed_in, RP, bound, key.assert_(options), now=T0)


def test_another_accounts_passkey_is_no_fresh_proof(db, alice, key):
    bob, told = _bob_proves_with(db, alice, key)
    assert told is not None
    assert events(db, bob.id)[-1] == "reauth_failed"


def test_retrying_a_passkey_proof_before_the_wait_is_over_never_lengthens_it(db, alice, key):
    _bob_proves_with(db, alice, key)  # refused and counted: a wait of 1 second

    for _ in range(3):  # again at once: refused, not counted
        bob, told = _bob_proves_with(db, alice, key)
        assert told is not None and "Try again in" in told

    db.refresh(bob)
    assert bob.second_factor_failures == 1


# --- passkeys beside an authenticator app ------------------------------------------------------


def test_turning_the_app_off_keeps_two_factor_on_while_passkeys_remain(db, alice, key):
    register(db, alice, key, now=T0)
    kept = backup_codes.replace_batch(db, alice.id, now=T0)
    enrollment = totp_flows.begin_enrollment(db, alice, now=T0)
    code = pyotp.TOTP(enrollment.secret).at(T0)
    confirmed = totp_flows.confirm_enrollment(db, alice.id, code, now=T0)
    assert confirmed.ok and not confirmed.turned_on  # 2FA was on already: no new codes

    later = T0 + timedelta(minutes=1)
    result = mfa.disable(db, alice.id, pyotp.TOTP(enrollment.secret).at(later), now=later)
    assert result.ok
    db.refresh(alice)
    assert alice.twofa_active and alice.totp_secret is None
    assert backup_codes.remaining(db, alice.id) == len(kept)
    assert len(db.exec(select(Passkey)).all()) == 1
    assert events(db, alice.id)[-1] == "totp_removed"


class _KeyOnAnUnknownCurve(SoftAuthenticator):
    def _cose_key(self) -> bytes:
        return cbor2.dumps({1: 2, 3: -7, -1: 99, -2: b"\x01" * 32, -3: b"\x02" * 32})


class _KeyAsAList(SoftAuthenticator):
    def _cose_key(self) -> bytes:
        return cbor2.dumps([1])


@pytest.mark.parametrize("broken", [_KeyOnAnUnknownCurve, _KeyAsAList])
def test_a_public_key_that_could_never_verify_is_refused_at_registration(db, alice, broken):
    outcome = register(db, alice, broken())
    assert not outcome.ok
    assert db.exec(select(Passkey)).all() == []


def test_only_error_names_the_platform_defines_reach_the_audit_trail():
    assert ceremony.error_name('{"error": "NotAllowedError"}') == "NotAllowedError"
    assert ceremony.error_name('{"error": "x refused=counter-regressed"}') == "other"


def test_answers_without_a_challenge_cannot_flood_the_audit_trail(db):
    before = len(events(db))
    for n in range(60):
        flows.finish_sign_in(
            db,
            RP,
            challenges.binding("connection", f"sid-{n}"),
            '{"id": "x"}',
            now=T0,
            client_ip=CLIENT,
        )
    written = len(events(db)) - before
    assert 0 < written <= throttle.per_client().free_failures


def test_the_same_passkey_twice_is_refused_and_audited(db, alice, key):
    assert register(db, alice, key).ok
    again = register(db, alice, key, name="Again")
    assert not again.ok and "already registered" in again.message
    assert events(db, alice.id)[-1] == "passkey_refused"
