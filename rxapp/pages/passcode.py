"""/passcode: the second step of signing in."""

from __future__ import annotations

import reflex as rx

from rxapp.components.approvals import approval_panel
from rxapp.components.fields import error_message, submit_button
from rxapp.components.layout import card, page
from rxapp.components.widgets import code_input
from rxapp.state.passcode import PasscodeState


def _help() -> rx.Component:
    return rx.el.details(
        rx.el.summary(
            rx.text("Having trouble with your code?", as_="span", size="2", weight="medium"),
            cursor="pointer",
        ),
        rx.vstack(
            rx.text(
                rx.text.strong("Check your phone's time. "),
                "Codes depend on the time. If you are sure the code is right, set the date and "
                "time on your phone to update automatically (network time).",
                size="2",
            ),
            rx.text(
                rx.text.strong("Use a backup code. "),
                "Type one of the backup codes you saved when you set up two-factor "
                "authentication, in the same box. Each works once.",
                size="2",
            ),
            rx.text(
                rx.text.strong("Check your device. "),
                "If you recently changed phones, open your authenticator app and check that "
                "the rxapp entry is there and set up on this phone.",
                size="2",
            ),
            spacing="2",
            padding_top="0.5rem",
        ),
        width="100%",
    )


def passcode_page() -> rx.Component:
    """Enter a code from the authenticator app, or a backup code."""
    return page(
        card(
            rx.text(
                "Open your authenticator app and enter the 6-digit code for rxapp, "
                "or enter one of your backup codes.",
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.vstack(
                    code_input(
                        "Verification code",
                        name="code",
                        test_id="passcode-input",
                        numeric_only=False,
                    ),
                    error_message(PasscodeState.error, test_id="passcode-error"),
                    submit_button("Log in", test_id="passcode-submit"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=PasscodeState.submit,
                reset_on_submit=False,
                width="100%",
            ),
            approval_panel(),
            _help(),
            rx.button(
                "Use a different account",
                variant="ghost",
                size="2",
                on_click=PasscodeState.start_over,
            ),
        ),
        title="Two-factor authentication",
        signed_in=False,
    )
