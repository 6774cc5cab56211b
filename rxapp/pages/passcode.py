"""/passcode: the second step of signing in."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.approvals import approval_panel
from rxapp.components.fields import error_message, passkey_button, submit_button
from rxapp.components.layout import card, page, testid, when_ready
from rxapp.components.prefetch import prefetch_pages
from rxapp.components.widgets import NB_HYPHEN, code_input, on_return, wait_countdown
from rxapp.state.passcode import PasscodeState


def _tip(title: str, text: str) -> rx.Component:
    return rx.text(rx.text.strong(f"{title} "), text, size="2")


def _help() -> rx.Component:
    """What to try when a code fails (the user guide's list); an account without an
    authenticator app is told only what applies to it."""
    return rx.el.details(
        rx.el.summary(
            rx.text("Having trouble with your code?", as_="span", size="2", weight="medium"),
            cursor="pointer",
        ),
        rx.vstack(
            rx.cond(
                PasscodeState.app_available,
                _tip(
                    "Check your phone's time.",
                    "Codes depend on the time. If you are sure the code is right, set the date "
                    "and time on your phone to update automatically (network time).",
                ),
            ),
            _tip(
                "Use a backup code.",
                "Type one of the backup codes you saved when you set up two-factor "
                "authentication, in the same box. Each works once.",
            ),
            rx.cond(
                PasscodeState.app_available,
                _tip(
                    "Check your device.",
                    "If you recently changed phones, open your authenticator app and check "
                    "that the rxapp entry is there and set up on this phone.",
                ),
                _tip(
                    "Lost your passkey?",
                    "Enter a backup code instead. If you have none left, ask your admin to "
                    "reset your two-factor authentication.",
                ),
            ),
            spacing="2",
            padding_top="0.5rem",
        ),
        width="100%",
    )


def _voided() -> rx.Component:
    """The sign-in has ended: say why and offer the way back, instead of a dead form."""
    return rx.vstack(
        rx.callout(
            PasscodeState.error,
            icon="triangle-alert",
            color_scheme="red",
            role="alert",
            width="100%",
            custom_attrs=testid("passcode-error"),
        ),
        rx.button(
            "Sign in again",
            size="3",
            width="100%",
            on_click=PasscodeState.start_over,
            custom_attrs=testid("passcode-sign-in-again"),
        ),
        spacing="4",
        width="100%",
    )


def _form() -> rx.Component:
    return rx.vstack(
        rx.text(
            rx.cond(
                PasscodeState.passkey_available,
                rx.cond(
                    PasscodeState.app_available,
                    "Use your passkey, or enter the code from your authenticator app or one of "
                    "your backup codes.",
                    "Use your passkey, or enter one of your backup codes.",
                ),
                f"Open your authenticator app and enter the 6{NB_HYPHEN}digit code for rxapp, "
                "or enter one of your backup codes.",
            ),
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
                    error=PasscodeState.error,
                    error_id="passcode-error",
                ),
                error_message(
                    PasscodeState.error, test_id="passcode-error", answers=PasscodeState.answers
                ),
                wait_countdown(
                    PasscodeState.wait_seconds,
                    message=PasscodeState.error,
                    answers=PasscodeState.answers,
                    test_id="passcode-wait",
                ),
                submit_button(
                    "Log in",
                    test_id="passcode-submit",
                    answers=PasscodeState.answers,
                    leaving=PasscodeState.leaving,
                ),
                spacing="4",
                width="100%",
            ),
            on_submit=PasscodeState.submit,
            reset_on_submit=True,
            method="post",  # with scripts off: the code in a body, never the URL
            width="100%",
        ),
        rx.cond(
            PasscodeState.passkey_available,
            passkey_button(
                "Use a passkey",
                test_id="passcode-use-passkey",
                on_click=PasscodeState.use_passkey,
                waiting=PasscodeState.passkey_waiting,
            ),
        ),
        approval_panel(),
        _help(),
        rx.button(
            "Use a different account",
            variant="ghost",
            size="2",
            on_click=PasscodeState.start_over,
        ),
        spacing="4",
        width="100%",
    )


def passcode_page() -> rx.Component:
    """Enter a code from the authenticator app, or a backup code."""
    return page(
        when_ready(
            PasscodeState.account_hint != "",
            "Checking your sign-in…",
            card(
                rx.text(
                    "Signing in as ",
                    rx.text.strong(
                        PasscodeState.account_hint, custom_attrs=testid("passcode-account")
                    ),
                    size="2",
                ),
                rx.cond(PasscodeState.voided, _voided(), _form()),
            ),
        ),
        prefetch_pages(routes.PROFILE),
        # Another tab of this browser may have started or finished a sign-in meanwhile.
        on_return(PasscodeState.refresh),
        title="Two-factor authentication",
        signed_in=False,
    )
