"""Forged events are refused before Reflex sees them, for what they are, never for what they
carry (the reasons never quote a payload)."""

from __future__ import annotations

import pytest
from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY as FORM

import rxapp.rxapp  # noqa: F401  (registers every handler of the app)
from rxapp.event_guard import RefusedEventError, check_event
from rxapp.state.auth import AuthState
from rxapp.state.login import LoginState
from rxapp.state.profile_dialogs import EnrollState
from rxapp.state.users import UsersState

MARKER = "payload-marker-91c2"
UPDATE_VARS = (
    "reflex___state____state.reflex___state____update_vars_internal_state.update_vars_internal"
)
HYDRATE = "reflex___state____state.hydrate_and_load"


def _event(state: type, handler: str, payload: object) -> dict:
    return {"name": f"{state.get_full_name()}.{handler}", "payload": payload}


def test_an_event_the_page_sends_passes():
    check_event(
        {
            **_event(UsersState, "set_status_filter", {"value": "activated"}),
            "router_data": {
                "pathname": "/users",
                "asPath": "/users?twofa=x",
                "query": {"twofa": "x"},
            },
        }
    )
    check_event(_event(LoginState, "submit", {"form": {"email": "a@b.c", "password": "x"}}))
    entries = [["email", "a@b.c"], ["password", "x"], ["remember", True], ["range[]", ["1", "2"]]]
    check_event(_event(LoginState, "submit", {"form": {FORM: entries}}))  # as a page sends it
    check_event(_event(UsersState, "ask_reset", {"user_id": 7}))
    check_event(_event(EnrollState, "close", {}))
    storage = f"{AuthState.get_full_name()}.session_token"
    check_event({"name": UPDATE_VARS, "payload": {"vars": {storage: "t"}}})
    check_event({"name": UPDATE_VARS, "payload": {"vars": {storage + "_rx_state_": "t"}}})
    check_event({"name": HYDRATE, "payload": {"vars": {storage: "t"}, "hashes": []}})


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"name": f"no.such.{MARKER}", "payload": {}}, "unknown handler"),
        (_event(LoginState, "_password_step", {}), "unknown handler"),
        (_event(LoginState, "submit", {"form": {}, MARKER: 1}), "unexpected argument"),
        (_event(LoginState, "submit", {}), "missing argument form"),
        (_event(LoginState, "submit", {"form": MARKER}), "wrong type"),
        (_event(UsersState, "ask_reset", {"user_id": True}), "wrong type"),
        (_event(UsersState, "ask_reset", {"user_id": "7"}), "wrong type"),
        (_event(UsersState, "ask_reset", {"user_id": 10**30}), "out of range"),
        (_event(LoginState, "submit", {"form": {"email": MARKER + "\x00"}}), "NUL"),
        (_event(LoginState, "submit", {"form": {"e": [[[[[[[MARKER]]]]]]]}}), "nested"),
        (_event(LoginState, "submit", {"form": {"e": "x" * 70_000}}), "too large"),
        (_event(LoginState, "submit", [MARKER]), "payload is not an object"),
        ({"name": 12}, "no handler name"),
        (_event(LoginState, "submit", {"form": {FORM: MARKER}}), "malformed form data"),
        (_event(LoginState, "submit", {"form": {FORM: [[MARKER]]}}), "malformed form data"),
        (_event(LoginState, "submit", {"form": {FORM: [["a", "b", MARKER]]}}), "malformed form"),
        (_event(LoginState, "submit", {"form": {FORM: [[1, MARKER]]}}), "malformed form data"),
        (_event(LoginState, "submit", {"form": {FORM: [["a", {"b": MARKER}]]}}), "malformed form"),
        (_event(LoginState, "submit", {"form": {FORM: [], MARKER: 1}}), "malformed form data"),
        (_event(LoginState, "setvar", {"var_name": MARKER, "value": 1}), "generic setter"),
        (_event(LoginState, "setvar", {"var_name": "error", "value": MARKER}), "generic setter"),
        (
            {**_event(EnrollState, "close", {}), "router_data": {"query": ["x"]}},
            "malformed query",
        ),
        (
            {**_event(EnrollState, "close", {}), "router_data": {"pathname": 5}},
            "malformed router data",
        ),
        ([MARKER], "not an event object"),
        (MARKER, "not an event object"),
        ({"name": UPDATE_VARS, "payload": {"vars": {f"no.such.{MARKER}": 1}}}, "browser-storage"),
        ({"name": UPDATE_VARS, "payload": {"vars": {MARKER: 1}}}, "browser-storage"),
        (
            {"name": UPDATE_VARS, "payload": {"vars": {f"{'a.' * 200}{MARKER}": 1}}},
            "browser-storage",  # too long to be one of the app's: not even looked up
        ),
        (
            {"name": HYDRATE, "payload": {"vars": {f"{LoginState.get_full_name()}.error": ""}}},
            "browser-storage",  # a var of the app, but not one the browser keeps
        ),
    ],
)
def test_a_forged_event_is_refused_with_a_reason_that_quotes_nothing(event, reason):
    with pytest.raises(RefusedEventError) as refusal:
        check_event(event)
    assert reason in str(refusal.value)
    assert MARKER not in str(refusal.value)
