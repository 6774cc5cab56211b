"""/login: email and password."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.fields import (
    error_message,
    labelled_input,
    passkey_button,
    submit_button,
)
from rxapp.components.layout import card, page, testid
from rxapp.components.prefetch import prefetch_pages
from rxapp.components.widgets import wait_countdown
from rxapp.paint_first import FIRST_PAINT_MARK
from rxapp.state.login import LoginState


def login_page() -> rx.Component:
    """The sign-in form; Enter submits, the button shows progress."""
    return page(
        card(
            rx.cond(
                LoginState.notice != "",
                rx.callout(
                    LoginState.notice,
                    icon="triangle-alert",  # the error's icon: nothing more to load
                    color_scheme="amber",
                    role="status",
                    size="1",
                    width="100%",
                    margin_bottom="1rem",
                    custom_attrs=testid("login-notice"),
                ),
            ),
            rx.form(
                rx.vstack(
                    labelled_input(
                        "Email",
                        name="email",
                        test_id="login-email",
                        # Not type=email: browsers refuse addresses with a non-ASCII local
                        # part that accounts may have; the server explains a malformed one.
                        attrs={
                            "inputmode": "email",
                            "autocapitalize": "none",
                            "autocorrect": "off",
                            "spellcheck": "false",
                        },
                        autocomplete="username",
                        required=True,
                        max_length=254,
                        auto_focus=True,
                        error=LoginState.error,
                        error_id="login-error",
                    ),
                    labelled_input(
                        "Password",
                        name="password",
                        test_id="login-password",
                        input_type="password",
                        autocomplete="current-password",
                        required=True,
                        max_length=1024,
                        error=LoginState.error,
                        error_id="login-error",
                    ),
                    error_message(
                        LoginState.error, test_id="login-error", answers=LoginState.answers
                    ),
                    wait_countdown(
                        LoginState.wait_seconds,
                        message=LoginState.error,
                        answers=LoginState.answers,
                        test_id="login-wait",
                    ),
                    submit_button(
                        "Log in",
                        test_id="login-submit",
                        answers=LoginState.answers,
                        leaving=LoginState.leaving,
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=LoginState.submit,
                reset_on_submit=False,
                # With scripts off the browser submits natively: in a body, never the URL.
                method="post",
                width="100%",
                # The first paint uses rxapp/first_paint.css, made for this page's elements.
                custom_attrs={FIRST_PAINT_MARK: "login"},
            ),
            rx.hstack(
                rx.separator(size="4", flex="1"),
                rx.text("or", size="2", color_scheme="gray"),
                rx.separator(size="4", flex="1"),
                align="center",
                width="100%",
                padding_y="0.75rem",
            ),
            passkey_button(
                "Sign in with a passkey",
                test_id="login-passkey",
                on_click=LoginState.use_passkey,
                waiting=LoginState.passkey_waiting,
            ),
        ),
        prefetch_pages(routes.PASSCODE),
        title="Log in",
        signed_in=False,
    )
