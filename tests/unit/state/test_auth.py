"""The session guard without a browser: what a connection proves, what the state keeps, and
what a (re)connecting browser is shown."""

from __future__ import annotations

import pickle

from rxapp.services.tokens import token_hash
from rxapp.state.auth import SIGNED_OUT, AuthState
from rxapp.state.profile import ProfileState
from tests.unit.async_helpers import run_async
from tests.unit.state.conftest import substate

TOKEN = "t" * 43
OTHER_TOKEN = "o" * 43


def test_a_presented_token_is_kept_only_as_its_digest_bound_to_the_connection(connect):
    auth = connect("sid-1")
    auth.session_token = TOKEN

    assert auth.session_token == ""
    assert auth._session_digest == token_hash(TOKEN)
    assert auth._proof().session_digest == token_hash(TOKEN)
    assert TOKEN.encode() not in pickle.dumps(auth)


def test_the_token_vars_are_never_sent_back_to_the_browser(connect):
    auth = connect("sid-1")
    auth.session_token = TOKEN
    auth.pending_token = OTHER_TOKEN
    delta = auth.get_delta()
    sent = repr(delta)
    assert "session_token" not in sent and "pending_token" not in sent
    assert TOKEN not in sent and token_hash(TOKEN) not in sent


def test_another_connection_with_the_same_tab_id_proves_nothing(connect):
    auth = connect("sid-1")
    auth.session_token = TOKEN
    auth = connect("sid-2")  # e.g. someone who learnt the tab id, without the token
    assert auth._proof() is None
    assert auth._proven_session() == ""


def test_a_guarded_handler_refuses_an_unproven_connection_without_asking_the_database(connect):
    auth = connect("sid-1")
    auth.session_token = TOKEN
    auth = connect("sid-2")
    called = []
    outcome = run_async(auth._as_user(lambda db, signed_in: called.append(1)))
    assert outcome is SIGNED_OUT and called == []


def _shown_to_owner(root, auth):
    auth.session_token = TOKEN
    auth._owned_by = auth._session_digest
    auth.user_email = "owner@example.com"
    profile = substate(root, ProfileState)
    profile.member_since = "01 Mar 2025"
    return profile


def test_a_connection_without_the_token_is_shown_none_of_the_account(root, connect):
    profile = _shown_to_owner(root, connect("sid-1"))
    auth = connect("sid-2")
    auth.session_token = ""  # what a browser with empty storage presents on connecting
    snapshot = repr(root.dict())
    assert "owner@example.com" not in snapshot and "01 Mar 2025" not in snapshot
    assert profile.member_since == ""


def test_the_owner_reconnecting_with_the_token_keeps_what_is_on_screen(root, connect):
    profile = _shown_to_owner(root, connect("sid-1"))
    auth = connect("sid-2")
    auth.session_token = ""  # Reflex resets browser-storage vars first ...
    auth.session_token = TOKEN  # ... then applies what the browser holds
    snapshot = repr(root.dict())
    assert "owner@example.com" in snapshot
    assert profile.member_since == "01 Mar 2025"
    assert auth._proof().session_digest == token_hash(TOKEN)


def test_another_users_token_on_a_known_tab_id_shows_nothing_of_the_first_user(root, connect):
    _shown_to_owner(root, connect("sid-1"))
    auth = connect("sid-2")
    auth.session_token = OTHER_TOKEN
    assert "owner@example.com" not in repr(root.dict())
    assert auth._proven_session() == token_hash(OTHER_TOKEN)


def test_binding_a_new_session_replaces_the_proof_of_this_connection(connect):
    auth = connect("sid-1")
    auth._bind(session_token=TOKEN)
    assert isinstance(auth, AuthState)
    assert auth._proven_session() == token_hash(TOKEN)
    assert auth._proof().pending_digest == ""


def test_presenting_another_token_on_a_new_connection_keeps_none_of_the_old_proof(connect):
    auth = connect("victim-sid")
    auth.session_token = TOKEN
    auth.device_token = "d" * 43
    auth = connect("attacker-sid")  # the tab id, without hydrating
    auth.device_token = "x"  # as a forged update_vars_internal would set it
    assert auth._proven_session() == ""
    assert auth._proof().pending_digest == ""


def test_a_new_device_token_on_a_new_connection_proves_no_session(connect):
    auth = connect("victim-sid")
    auth.session_token = TOKEN
    auth = connect("attacker-sid")
    auth._new_device_if_needed()  # what the password step does for a browser without one
    assert auth._proven_session() == ""


def test_a_sync_from_another_tab_on_the_same_connection_keeps_the_session(connect):
    auth = connect("sid-1")
    auth.session_token = TOKEN
    auth.device_token = "d" * 43  # e.g. another tab of the browser wrote its device token
    assert auth._proven_session() == token_hash(TOKEN)


def test_a_handed_over_view_is_taken_once_by_its_page_on_the_same_connection(connect, root):
    auth = connect("sid-1")
    auth.pending_token = TOKEN
    profile = substate(root, ProfileState)
    auth._hand_over("/passcode", "view")
    assert profile._take_arrival("/profile") is None  # another page's: dropped
    auth._hand_over("/passcode", "view")
    assert profile._take_arrival("/passcode") == "view"
    assert profile._take_arrival("/passcode") is None  # once


def test_a_handed_over_view_is_not_given_to_another_connection_or_late(connect, monkeypatch):
    auth = connect("sid-1")
    auth.session_token = TOKEN
    auth._hand_over("/profile", "view")
    auth = connect("sid-2")
    auth.session_token = TOKEN
    assert auth._take_arrival("/profile") is None
    auth._hand_over("/profile", "view")
    monkeypatch.setattr("rxapp.state.auth.ARRIVAL_SECONDS", -1.0)
    auth._hand_over("/profile", "view")
    assert auth._take_arrival("/profile") is None
