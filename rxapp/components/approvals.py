"""Number matching, on both sides: the waiting passcode page and the approving device."""

from __future__ import annotations

import reflex as rx

from rxapp.components.layout import keep_focus_script, testid
from rxapp.components.widgets import dialog_focus
from rxapp.state.approvals import ApprovalState
from rxapp.state.passcode import PasscodeState

# Where keyboard focus goes when the control that had it is replaced: the number to pick,
# then what became of the request.
_WAITING_ID = "approval-waiting"
_MESSAGE_ID = "approval-message"


def approval_panel() -> rx.Component:
    """On the passcode page: ask a signed-in device, then show the number to pick there."""
    waiting = rx.vstack(
        rx.text("On your signed-in device, pick this number:", size="2"),
        rx.text(
            PasscodeState.approval_number["number"],
            size="9",
            weight="bold",
            custom_attrs=testid("approval-number"),
        ),
        rx.text(
            "The request expires in ",
            rx.el.span(PasscodeState.approval_seconds, custom_attrs=testid("approval-expires")),
            rx.cond(PasscodeState.approval_seconds == 1, " second.", " seconds."),
            size="2",
            color_scheme="gray",
            aria_live="off",
        ),
        align="center",
        spacing="2",
        width="100%",
        padding="1rem",
        border=f"1px solid {rx.color('accent', 6)}",
        border_radius="var(--radius-3)",
        id=_WAITING_ID,
        tab_index=-1,
        on_mount=keep_focus_script(_WAITING_ID),
    )
    ask = rx.button(
        rx.icon("smartphone", size=16),
        "Approve from a signed-in device",
        variant="soft",
        width="100%",
        on_click=PasscodeState.request_approval,
        custom_attrs=testid("passcode-request-approval"),
    )
    return rx.vstack(
        rx.cond(
            PasscodeState.approval_waiting,
            waiting,
            rx.cond(PasscodeState.approval_available, ask),
        ),
        rx.cond(
            PasscodeState.approval_message != "",
            rx.callout(
                PasscodeState.approval_message,
                icon="info",
                color_scheme="gray",
                size="1",
                id=_MESSAGE_ID,
                tab_index=-1,
                on_mount=keep_focus_script(_MESSAGE_ID),
                custom_attrs=testid("approval-message"),
            ),
        ),
        rx.el.div(
            rx.cond(
                PasscodeState.approval_waiting,
                "Waiting for your other device. Pick the number shown here on it.",
                PasscodeState.approval_message,
            ),
            role="status",
            aria_live="polite",
            class_name="sr-only",
        ),
        spacing="3",
        width="100%",
    )


_DENY_ID = "approval-deny"


def approval_dialog() -> rx.Component:
    """On every signed-in page: someone is signing in and asks this device to approve."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Is this you signing in?"),
            rx.alert_dialog.description(
                "A sign-in to your account waits for approval, from ",
                rx.text.strong(ApprovalState.where),
                " at ",
                ApprovalState.when,
                ". If it is you, pick the number that the other screen shows. If not, deny it.",
                size="2",
            ),
            rx.hstack(
                rx.foreach(
                    ApprovalState.choices,
                    lambda choice: rx.button(
                        choice["number"],
                        size="4",
                        variant="outline",
                        on_click=ApprovalState.choose(choice["number"], ApprovalState.offer),
                        custom_attrs=testid("approval-choice"),
                    ),
                ),
                spacing="3",
                justify="center",
                padding_y="1rem",
            ),
            rx.hstack(
                # A plain button: Reflex wraps a Cancel's child that has on_click in a Flex,
                # where Radix's focus on open then lands (nowhere, as it is not focusable).
                rx.button(
                    "Deny, it is not me",
                    id=_DENY_ID,
                    color_scheme="red",
                    variant="soft",
                    on_click=ApprovalState.deny(ApprovalState.offer),
                    custom_attrs=testid("approval-deny"),
                ),
                justify="end",
            ),
            custom_attrs=testid("approval-request"),
            max_width="26rem",
            # It opens by itself, over whatever the person was doing: focus goes to the safe
            # answer (Enter denies), never to a number, and back to the page afterwards.
            **dialog_focus(start_at=_DENY_ID),
        ),
        open=ApprovalState.open,
    )
