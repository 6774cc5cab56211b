"""Labelled form controls and announced messages."""

from __future__ import annotations

import reflex as rx

from rxapp.components.early_submit import LEAVING, busy_until_answered
from rxapp.components.layout import testid


def described(
    *, hint_id: str = "", error: rx.Var[str] | None = None, error_id: str = ""
) -> dict[str, object]:
    """A control's `aria-describedby` (its hint, and its error while one shows, see
    `error_message`) and `aria-invalid` (while the error shows)."""
    if error is None:
        return {"aria-describedby": hint_id} if hint_id else {}
    showing = error != ""
    return {
        "aria-invalid": rx.cond(showing, "true", "false"),
        "aria-describedby": rx.cond(showing, f"{hint_id} {error_id}".strip(), hint_id),
    }


def labelled_input(
    label: str,
    *,
    name: str,
    test_id: str,
    input_type: str = "text",
    autocomplete: str = "off",
    hint: str = "",
    error: rx.Var[str] | None = None,
    error_id: str = "",
    attrs: dict[str, str] | None = None,
    **props: object,
) -> rx.Component:
    """An input with a visible <label>, its `data-testid` on the <input> itself; `error`
    (shown in `error_id`) marks it invalid and describes it while set; `attrs`: more HTML
    attributes of the <input>."""
    control_id = test_id
    return rx.vstack(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=control_id),
        rx.input(
            id=control_id,
            name=name,
            type=input_type,
            auto_complete=autocomplete,
            size="3",
            width="100%",
            custom_attrs={
                **(attrs or {}),
                **testid(test_id),
                **described(
                    hint_id=f"{control_id}-hint" if hint else "", error=error, error_id=error_id
                ),
            },
            **props,
        ),
        rx.text(hint, id=f"{control_id}-hint", size="1", color_scheme="gray")
        if hint
        else rx.fragment(),
        spacing="1",
        width="100%",
    )


def error_message(
    message: rx.Var[str], *, test_id: str, answers: rx.Var[int] | None = None
) -> rx.Component:
    """An error shown only when `message` is set; role=alert makes screen readers say it.
    With `answers` (the form's answer counter), each answer inserts the alert anew, so the
    same message twice is said twice."""
    keyed = {} if answers is None else {"key": answers}
    return rx.cond(
        message != "",
        rx.callout(
            message,
            icon="triangle-alert",
            color_scheme="red",
            role="alert",
            size="1",
            width="100%",
            id=test_id,
            custom_attrs=testid(test_id),
            **keyed,
        ),
    )


def proof_input(*, is_code: rx.Var[bool], error: rx.Var[str], label: rx.Var[str]) -> rx.Component:
    """The fresh-proof field (`reauth-input`, `reauth-error`): a current code when `is_code`,
    else the password, with the matching keyboard and autofill."""
    return rx.vstack(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for="reauth-input"),
        rx.input(
            id="reauth-input",
            name="proof",
            type=rx.cond(is_code, "text", "password"),
            size="3",
            width="100%",
            required=True,
            auto_focus=True,
            max_length=1024,
            custom_attrs={
                **testid("reauth-input"),
                "autocomplete": rx.cond(is_code, "one-time-code", "current-password"),
                **described(error=error, error_id="reauth-error"),
            },
        ),
        error_message(error, test_id="reauth-error"),
        spacing="2",
        width="100%",
    )


def submit_button(
    label: str, *, test_id: str, answers: rx.Var[int], leaving: rx.Var[bool] | None = None
) -> rx.Component:
    """A form's full-width submit button, busy from the submit until `answers` changes;
    with `leaving` (the step succeeded), showing progress on until the next page replaces
    it (see `components/early_submit.py`)."""
    attrs = {**testid(test_id), **busy_until_answered(answers)}
    if leaving is not None:
        attrs[LEAVING] = leaving
    return rx.button(label, type="submit", size="3", width="100%", custom_attrs=attrs)


def passkey_button(
    label: str, *, test_id: str, on_click: rx.EventType, waiting: rx.Var[bool]
) -> rx.Component:
    """The button that asks the browser for a passkey, busy while the browser asks, with a
    status line screen readers hear."""
    return rx.vstack(
        rx.button(
            rx.icon("fingerprint", size=16),
            label,
            size="3",
            variant="soft",
            width="100%",
            type="button",
            loading=waiting,
            on_click=on_click,
            custom_attrs=testid(test_id),
        ),
        rx.cond(
            waiting,
            rx.text("Follow your browser's prompt to use your passkey.", size="2", role="status"),
        ),
        spacing="2",
        width="100%",
    )
