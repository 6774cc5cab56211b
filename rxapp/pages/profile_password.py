"""The profile's change-password dialog."""

from __future__ import annotations

import reflex as rx

from rxapp.components.fields import error_message, labelled_input
from rxapp.components.widgets import dialog_actions, dialog_focus, wait_countdown
from rxapp.services.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from rxapp.state.profile_password import CURRENT_FIELD, NEW_FIELD, PasswordState


def password_dialog() -> rx.Component:
    """The current password, then the new one; other sessions end on a change."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Change your password"),
            rx.dialog.description(
                "Every other session of your account will be signed out. Two-factor "
                "authentication stays as it is.",
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.vstack(
                    labelled_input(
                        "Current password",
                        name="current",
                        test_id=CURRENT_FIELD,
                        input_type="password",
                        autocomplete="current-password",
                        required=True,
                        max_length=MAX_PASSWORD_LENGTH,
                        error=rx.cond(PasswordState.error_on_new, "", PasswordState.error),
                        error_id="password-error",
                    ),
                    labelled_input(
                        "New password",
                        name="new",
                        test_id=NEW_FIELD,
                        input_type="password",
                        autocomplete="new-password",
                        hint=f"At least {MIN_PASSWORD_LENGTH} characters; a long phrase is best.",
                        required=True,
                        # No `minlength`: the browser's own bubble would leave the last
                        # answer's error on screen beside it; the server says it instead.
                        max_length=MAX_PASSWORD_LENGTH,
                        error=rx.cond(PasswordState.error_on_new, PasswordState.error, ""),
                        error_id="password-error",
                    ),
                    error_message(
                        PasswordState.error, test_id="password-error", answers=PasswordState.answers
                    ),
                    wait_countdown(
                        PasswordState.wait_seconds,
                        message=PasswordState.error,
                        answers=PasswordState.answers,
                        test_id="password-wait",
                    ),
                    dialog_actions(
                        "Cancel",
                        "Change password",
                        test_id="password-save",
                        answers=PasswordState.answers,
                    ),
                    spacing="3",
                    width="100%",
                    padding_top="1rem",
                ),
                on_submit=PasswordState.submit,
                reset_on_submit=False,
            ),
            max_width="28rem",
            **dialog_focus(),
        ),
        open=PasswordState.open,
        on_open_change=PasswordState.close,
    )
