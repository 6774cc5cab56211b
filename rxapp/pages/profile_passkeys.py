"""The profile's Passkeys card and its dialogs: add (name), rename, remove."""

from __future__ import annotations

import reflex as rx

from rxapp.components.fields import error_message, labelled_input
from rxapp.components.layout import card, testid
from rxapp.components.widgets import dialog_actions, dialog_focus, local_time, scroll_region
from rxapp.state.profile import PasskeyRow, ProfileState
from rxapp.state.profile_passkeys import PasskeysState


def _row(passkey: rx.Var[PasskeyRow]) -> rx.Component:
    """One passkey: its name with its actions beneath (in view on a phone too), dates."""
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(
                    passkey["name"],
                    weight="medium",
                    # A long name wraps, anywhere if it must: the dates stay in view.
                    overflow_wrap="anywhere",
                    custom_attrs=testid("passkey-name-cell"),
                ),
                rx.hstack(
                    rx.button(
                        "Rename",
                        size="1",
                        variant="soft",
                        aria_label="Rename passkey " + passkey["name"],
                        on_click=PasskeysState.start_rename(passkey["id"]),
                        custom_attrs=testid("passkey-rename"),
                    ),
                    rx.button(
                        "Remove",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        high_contrast=True,
                        aria_label="Remove passkey " + passkey["name"],
                        on_click=PasskeysState.start_remove(passkey["id"]),
                        custom_attrs=testid("passkey-remove"),
                    ),
                    spacing="2",
                ),
                spacing="2",
            ),
            class_name="wraps",
            min_width="9rem",
        ),
        rx.table.cell(local_time(passkey["created"], with_time=False)),
        rx.table.cell(
            rx.cond(passkey["last_used"] != "", local_time(passkey["last_used"]), "Never")
        ),
        custom_attrs=testid("passkey-row"),
    )


def passkeys_card() -> rx.Component:
    """The account's passkeys: list, add, rename, remove."""
    return card(
        rx.heading("Passkeys", size="4", as_="h2"),
        rx.text(
            "A passkey signs you in with your fingerprint, face, screen lock or security key "
            "instead of a code, and cannot be used on a fake site. It counts as two-factor "
            "authentication, and lets you sign in without your password.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            ProfileState.passkeys.length() > 0,
            scroll_region(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Name"),
                            rx.table.column_header_cell("Added"),
                            rx.table.column_header_cell("Last used"),
                        )
                    ),
                    rx.table.body(rx.foreach(ProfileState.passkeys, _row)),
                    size="1",
                    width="100%",
                    class_name="fits",
                    custom_attrs=testid("passkeys-table"),
                ),
                label="Passkeys",
            ),
            rx.text("No passkeys yet.", size="2", custom_attrs=testid("passkeys-empty")),
        ),
        rx.button(
            rx.icon("fingerprint", size=16),
            "Add a passkey",
            on_click=PasskeysState.start_add,
            custom_attrs=testid("add-passkey"),
        ),
    )


def _name_dialog(
    title: str,
    description: str,
    *,
    label: str,
    test_id: str,
    save_test_id: str,
    error_test_id: str,
    error: rx.Var[str],
    on_submit: rx.EventType,
    answers: rx.Var[int],
    open_: rx.Var[bool],
    on_open_change: rx.EventType,
    extra: rx.Component | None = None,
    **input_props: object,
) -> rx.Component:
    """A dialog that asks for a passkey's name: its input, error and save button."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    labelled_input(
                        label,
                        name="name",
                        test_id=test_id,
                        required=True,
                        max_length=64,
                        auto_focus=True,
                        **input_props,
                    ),
                    extra if extra is not None else rx.fragment(),
                    error_message(error, test_id=error_test_id),
                    dialog_actions("Cancel", "Save", test_id=save_test_id, answers=answers),
                    spacing="3",
                    width="100%",
                    padding_top="1rem",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
            ),
            max_width="28rem",
            **dialog_focus(),
        ),
        open=open_,
        on_open_change=on_open_change,
    )


def add_passkey_dialog() -> rx.Component:
    """Name the passkey, then the browser asks the authenticator."""
    return _name_dialog(
        "Add a passkey",
        "Name it after the device or key that holds it, then follow your browser's prompt.",
        label="Passkey name",
        test_id="passkey-name",
        save_test_id="passkey-save",
        error_test_id="passkey-error",
        error=PasskeysState.add_error,
        on_submit=PasskeysState.save,
        answers=PasskeysState.answers,
        open_=PasskeysState.add_open,
        on_open_change=PasskeysState.close_add,
        extra=rx.cond(
            PasskeysState.waiting,
            rx.text("Waiting for your passkey…", size="2", role="status"),
        ),
        placeholder="e.g. Work laptop",
    )


def rename_passkey_dialog() -> rx.Component:
    """A new name for a passkey."""
    return _name_dialog(
        "Rename passkey",
        "The name helps you tell your passkeys apart.",
        label="New name",
        test_id="passkey-rename-name",
        save_test_id="passkey-rename-save",
        error_test_id="passkey-rename-error",
        error=PasskeysState.rename_error,
        on_submit=PasskeysState.save_rename,
        answers=PasskeysState.answers,
        open_=PasskeysState.rename_open,
        on_open_change=PasskeysState.close_rename,
        default_value=PasskeysState.rename_name,
    )


def remove_passkey_dialog() -> rx.Component:
    """Confirm removing a passkey."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove this passkey?"),
            rx.alert_dialog.description(
                rx.text.strong(PasskeysState.remove_name),
                " will no longer sign you in, and your other signed-in devices are "
                "signed out. If it is your only way of two-factor authentication, 2FA "
                "turns off and your backup codes are deleted.",
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Remove passkey",
                        color_scheme="red",
                        class_name="danger",
                        on_click=PasskeysState.confirm_remove,
                        custom_attrs=testid("passkey-remove-confirm"),
                    )
                ),
                justify="end",
                spacing="3",
                padding_top="1rem",
            ),
            max_width="28rem",
            **dialog_focus(),
        ),
        open=PasskeysState.remove_open,
        on_open_change=PasskeysState.close_remove,
    )
