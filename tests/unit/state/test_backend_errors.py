"""What a tab gets when one of its events fails on the server."""

from __future__ import annotations

import logging

import pytest
from reflex.utils.exceptions import LockExpiredError

from rxapp.components.early_submit import RELEASE_BUSY_BUTTONS
from rxapp.state.backend_errors import on_backend_exception

TAB_TOKEN = "5f0c3a6e-tab-token-d1b2"


def test_a_lost_state_reloads_the_tab_without_logging_its_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = LockExpiredError(f"Lock expired for token {TAB_TOKEN} while processing.")
    with caplog.at_level(logging.DEBUG):
        spec = on_backend_exception(error)
    assert spec is not None
    assert "window.location.reload()" in str(spec)
    assert caplog.records, "the loss is logged"
    assert TAB_TOKEN not in caplog.text
    assert "Traceback" not in caplog.text


def test_any_other_error_is_logged_in_full_and_shown_without_detail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        spec = on_backend_exception(ValueError("a bug"))
    assert spec is not None
    assert "reload" not in str(spec)
    assert RELEASE_BUSY_BUTTONS in str(spec)  # no answer will come: the form may be sent again
    assert "ValueError: a bug" in caplog.text
