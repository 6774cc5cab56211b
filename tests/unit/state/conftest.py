"""A Reflex state tree of the app, built without a browser or a server, and a way to act as
one websocket connection after another."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import reflex as rx

import rxapp.rxapp  # noqa: F401  (registers every state of the app)
from rxapp.state.auth import AuthState


@pytest.fixture
def root() -> rx.State:
    """A fresh state tree, as one browser tab gets it."""
    return rx.State(_reflex_internal_init=True)


def substate(root: rx.State, cls: type[rx.State]) -> rx.State:
    """The instance of `cls` in the tab's tree."""
    return root.get_substate(cls.get_full_name().split(".")[1:])


@pytest.fixture
def connect(root: rx.State) -> Callable[[str], AuthState]:
    """Make the next events arrive over the connection `sid` (as Reflex sets it)."""

    def over(sid: str) -> AuthState:
        root.router_data = root._update_router_vars({"sid": sid, "token": "tab-1"}, {})
        return substate(root, AuthState)

    return over
