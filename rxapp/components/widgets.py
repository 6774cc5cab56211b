"""Small shared widgets: the one-time-code input, the 2FA status badge, the countdown."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from rxapp.components.layout import testid


def code_input(
    label: str, *, name: str, test_id: str, numeric_only: bool, hint: str = ""
) -> rx.Component:
    """A labelled input for a 6-digit code (or a backup code when not `numeric_only`)."""
    attrs = {
        **testid(test_id),
        "autocomplete": "one-time-code",
        "inputmode": "numeric" if numeric_only else "text",
        "autocapitalize": "characters",
        "spellcheck": "false",
    }
    if hint:
        attrs["aria-describedby"] = f"{test_id}-hint"
    return rx.vstack(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=test_id),
        rx.input(
            id=test_id,
            name=name,
            size="3",
            width="100%",
            max_length=7 if numeric_only else 40,
            placeholder="123 456" if numeric_only else "6-digit code or backup code",
            required=True,
            auto_focus=True,
            font_family="ui-monospace, monospace",
            letter_spacing="0.08em",
            custom_attrs=attrs,
        ),
        rx.text(hint, id=f"{test_id}-hint", size="1", color_scheme="gray")
        if hint
        else rx.fragment(),
        spacing="1",
        width="100%",
    )


def status_badge(active: rx.Var[bool], *, test_id: str) -> rx.Component:
    """Activated (green) or Not activated (grey); the text is the value."""
    return rx.cond(
        active,
        rx.badge("Activated", color_scheme="green", size="2", custom_attrs=testid(test_id)),
        rx.badge("Not activated", color_scheme="gray", size="2", custom_attrs=testid(test_id)),
    )


def countdown(seconds: rx.Var[int], *, test_id: str) -> rx.Component:
    """Seconds left, updated every second and silent to screen readers (see `announcer`)."""
    return rx.hstack(
        rx.icon("timer", size=16, aria_hidden="true"),
        rx.text(
            rx.el.span(seconds, custom_attrs=testid(test_id), font_weight="bold"),
            " seconds left",
            size="2",
        ),
        role="timer",
        aria_live="off",
        align="center",
        spacing="1",
    )


def announcer(text: rx.Var[str], *, test_id: str) -> rx.Component:
    """A polite live region, invisible on screen: screen readers say `text` when it changes.
    Keep it rendered while its content changes, or the change is never heard."""
    return rx.el.p(
        text,
        class_name="sr-only",
        aria_live="polite",
        aria_atomic="true",
        custom_attrs=testid(test_id),
    )


def dialog_actions(
    cancel_label: str,
    submit_label: str,
    *,
    test_id: str,
    close: Callable[..., rx.Component] = rx.dialog.close,
    danger: bool = False,
) -> rx.Component:
    """A dialog's buttons: one that closes it unchanged, then the one that submits its form."""
    return rx.hstack(
        close(rx.button(cancel_label, variant="soft", color_scheme="gray", type="button")),
        rx.button(
            submit_label,
            type="submit",
            custom_attrs=testid(test_id),
            **({"color_scheme": "red"} if danger else {}),
        ),
        justify="end",
        spacing="3",
        width="100%",
    )
