"""The profile's dialogs: enable, fresh proof, disable, backup codes and their replacement."""

from __future__ import annotations

import reflex as rx

from rxapp.components.fields import error_message, passkey_button, proof_input
from rxapp.components.layout import testid
from rxapp.components.widgets import (
    NB_HYPHEN,
    announcer,
    code_input,
    countdown,
    dialog_actions,
    dialog_focus,
    kept_open_while_shown,
    wait_countdown,
)
from rxapp.state.profile import ProfileState
from rxapp.state.profile_dialogs import (
    BackupCodesState,
    DisableState,
    EnrollState,
    ReauthState,
)

AUTHENTICATOR_APPS = (
    "Google Authenticator",
    "Microsoft Authenticator",
    "Authy",
    "1Password",
    "Bitwarden",
    "FreeOTP",
)


def _step(number: str, title: str, *body: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.badge(number, radius="full", size="2", variant="solid"),
        rx.vstack(rx.text(title, weight="bold", size="2"), *body, spacing="2", width="100%"),
        spacing="3",
        align="start",
        width="100%",
    )


def enroll_dialog() -> rx.Component:
    """Install an app, scan the QR code (or type the key), check a code."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                "Enable two-factor authentication",
                id="enroll-title",
                outline="none",
                custom_attrs={"tabIndex": -1},
            ),
            rx.dialog.description(
                "Three steps: install an app, add rxapp to it, and check one code.",
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                _step(
                    "1",
                    "Install an authenticator app on your phone",
                    rx.text("For example: " + ", ".join(AUTHENTICATOR_APPS) + ".", size="2"),
                ),
                _step(
                    "2",
                    "Scan this QR code with the app",
                    rx.cond(
                        EnrollState.earlier_key,
                        rx.callout(
                            "This is a new key. If you scanned an earlier one, delete that "
                            "rxapp entry from your app: its codes will never work.",
                            icon="info",
                            size="1",
                            custom_attrs=testid("enroll-new-key"),
                        ),
                    ),
                    rx.image(
                        src=EnrollState.key["qr"],
                        alt="QR code to add rxapp to your authenticator app",
                        width=["148px", "180px"],
                        height=["148px", "180px"],
                        background="white",
                        custom_attrs=testid("enroll-qr"),
                    ),
                    rx.text("Can't scan it? Type this key into the app instead:", size="2"),
                    rx.hstack(
                        rx.code(
                            EnrollState.key["grouped"],
                            size="3",
                            custom_attrs=testid("enroll-secret"),
                        ),
                        rx.icon_button(
                            rx.icon("copy", size=16),
                            variant="soft",
                            aria_label="Copy the key",
                            on_click=[
                                rx.set_clipboard(EnrollState.key["plain"]),
                                rx.toast("Key copied"),
                            ],
                        ),
                        align="center",
                        wrap="wrap",
                    ),
                    rx.text(
                        "Is the app on this device? ",
                        rx.link(
                            "Add rxapp to it with one tap",
                            href=EnrollState.key["uri"],
                            custom_attrs=testid("enroll-link"),
                        ),
                        ".",
                        size="2",
                    ),
                ),
                _step(
                    "3",
                    f"Enter the 6{NB_HYPHEN}digit code the app shows",
                    rx.form(
                        rx.vstack(
                            code_input(
                                "Code from the app",
                                name="code",
                                test_id="enroll-code",
                                numeric_only=True,
                                auto_focus=False,
                                error=EnrollState.error,
                                error_id="enroll-error",
                            ),
                            error_message(EnrollState.error, test_id="enroll-error"),
                            dialog_actions(
                                "Cancel",
                                "Check",
                                test_id="enroll-check",
                                answers=EnrollState.answers,
                            ),
                            spacing="3",
                            width="100%",
                        ),
                        on_submit=EnrollState.submit,
                        reset_on_submit=True,
                        width="100%",
                    ),
                ),
                spacing=rx.breakpoints(initial="4", sm="5"),
                padding_top="1rem",
                width="100%",
            ),
            max_width="34rem",
            padding=["1rem", "1.5rem"],
            # The title's own id (for the focus above) replaces the one Radix generates,
            # which the dialog's name would otherwise still point to.
            custom_attrs={"aria-labelledby": "enroll-title"},
            **dialog_focus(start_at="enroll-title"),
        ),
        open=EnrollState.open,
        on_open_change=EnrollState.close,
    )


def reauth_dialog() -> rx.Component:
    """A fresh proof before a sensitive action: the password, or a current code."""
    for_enable = ReauthState.kind == "password"
    # New backup codes ask here, once, before the saved ones stop working.
    replacing = (ReauthState.purpose == "backup") & (ReauthState.backup_remaining > 0)
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(replacing, "Replace your backup codes?", "Confirm it's you")),
            rx.dialog.description(
                rx.cond(
                    replacing,
                    rx.fragment(
                        "You still have ",
                        rx.text.strong(ReauthState.backup_remaining),
                        rx.cond(
                            ReauthState.backup_remaining == 1,
                            " unused backup code. New codes replace it: the one you saved "
                            "stops working at once. ",
                            " unused backup codes. New codes replace them: the ones you saved "
                            "stop working at once. ",
                        ),
                    ),
                ),
                rx.cond(
                    for_enable,
                    "Enter your password to continue.",
                    rx.cond(
                        ReauthState.totp_active,
                        "Enter a code from your authenticator app or an unused backup code.",
                        "Use your passkey, or enter an unused backup code.",
                    ),
                ),
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.vstack(
                    proof_input(
                        is_code=~for_enable,
                        error=ReauthState.error,
                        label=rx.cond(for_enable, "Password", "Code"),
                    ),
                    wait_countdown(
                        ReauthState.wait_seconds,
                        message=ReauthState.error,
                        answers=ReauthState.answers,
                        test_id="reauth-wait",
                    ),
                    dialog_actions(
                        "Cancel",
                        rx.cond(replacing, "Replace codes", "Continue"),
                        test_id="reauth-submit",
                        answers=ReauthState.answers,
                    ),
                    rx.cond(
                        ReauthState.passkey_offered,
                        passkey_button(
                            "Use a passkey instead",
                            test_id="reauth-use-passkey",
                            on_click=ReauthState.use_passkey,
                            waiting=ReauthState.passkey_waiting,
                        ),
                    ),
                    spacing="3",
                    width="100%",
                    padding_top="1rem",
                ),
                on_submit=ReauthState.submit,
                reset_on_submit=True,
            ),
            max_width="26rem",
            **dialog_focus(),
        ),
        open=ReauthState.open,
        on_open_change=ReauthState.cancel,
    )


def disable_dialog() -> rx.Component:
    """Confirm turning 2FA off with a current code."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(
                    ProfileState.passkeys.length() > 0,
                    "Remove the authenticator app",
                    "Disable two-factor authentication",
                )
            ),
            rx.dialog.description(
                rx.cond(
                    ProfileState.passkeys.length() > 0,
                    "Your authenticator key will be deleted; your passkeys and backup codes "
                    "stay, so two-factor authentication stays on. Enter a current code from "
                    "your app, or a backup code, to confirm.",
                    "Your authenticator key and all backup codes will be deleted. Enter a "
                    "current code from your app, or a backup code, to confirm.",
                ),
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.vstack(
                    code_input(
                        "Code",
                        name="code",
                        test_id="disable-code",
                        numeric_only=False,
                        error=DisableState.error,
                        error_id="disable-error",
                    ),
                    error_message(DisableState.error, test_id="disable-error"),
                    wait_countdown(
                        DisableState.wait_seconds,
                        message=DisableState.error,
                        answers=DisableState.answers,
                        test_id="disable-wait",
                    ),
                    dialog_actions(
                        "Keep 2FA on",
                        "Disable 2FA",
                        test_id="disable-confirm",
                        answers=DisableState.answers,
                        danger=True,
                    ),
                    spacing="3",
                    width="100%",
                    padding_top="1rem",
                ),
                on_submit=DisableState.submit,
                reset_on_submit=True,
            ),
            max_width="28rem",
            **dialog_focus(),
        ),
        open=DisableState.open,
        on_open_change=DisableState.close,
    )


def _codes_text() -> rx.Var[str]:
    """The codes as a text file, put together in the browser (never a server-side string)."""
    return "rxapp backup codes (each works once)\n\n" + BackupCodesState.codes.join("\n") + "\n"


def _codes_gone(text: str, *, icon: str, color: str, test_id: str) -> rx.Component:
    """Where the codes were, once they are no longer shown: why, as a status."""
    return rx.callout(
        text,
        icon=icon,
        color_scheme=color,
        margin_y="1rem",
        role="status",
        custom_attrs=testid(test_id),
    )


def backup_dialog() -> rx.Component:
    """The five codes for 30 seconds with a live countdown, then gone for good."""
    showing = BackupCodesState.codes.length() > 0
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(
                    BackupCodesState.replaced,
                    "Backup codes replaced",
                    rx.cond(
                        BackupCodesState.revealed,
                        "Backup codes hidden",
                        rx.cond(
                            BackupCodesState.first_batch,
                            "2FA is on: save your backup codes",
                            "Your new backup codes",
                        ),
                    ),
                )
            ),
            rx.dialog.description(
                rx.cond(
                    BackupCodesState.replaced,
                    "Newer backup codes were made in another tab or browser since these were "
                    "shown, or 2FA was turned off.",
                    rx.cond(
                        BackupCodesState.revealed,
                        "Your new codes are active. Any older codes no longer work.",
                        rx.fragment(
                            "Each code works once, in place of ",
                            rx.cond(
                                BackupCodesState.totp_active,
                                "a code from your app, if you lose your phone.",
                                "your passkey, if you lose it.",
                            ),
                            rx.cond(
                                BackupCodesState.first_batch,
                                "",
                                " Any older codes no longer work.",
                            ),
                        ),
                    ),
                ),
                size="2",
                color_scheme="gray",
            ),
            announcer(
                BackupCodesState.countdown_announcement,
                test_id="backup-countdown-announcement",
            ),
            rx.cond(
                showing,
                rx.vstack(
                    rx.hstack(
                        countdown(BackupCodesState.countdown, test_id="backup-countdown"),
                        rx.cond(
                            BackupCodesState.extensions_left > 0,
                            rx.button(
                                rx.icon("timer-reset", size=16),
                                "More time",
                                size="1",
                                variant="soft",
                                on_click=BackupCodesState.extend,
                                custom_attrs=testid("backup-extend"),
                            ),
                        ),
                        align="center",
                        justify="between",
                        width="100%",
                        wrap="wrap",
                        gap="2",
                    ),
                    rx.el.ul(
                        rx.foreach(
                            BackupCodesState.codes,
                            lambda code: rx.el.li(
                                rx.code(code, size="4", custom_attrs=testid("backup-code")),
                                list_style="none",
                            ),
                        ),
                        padding="0",
                        margin="0",
                        display="grid",
                        gap="0.5rem",
                    ),
                    rx.hstack(
                        rx.button(
                            rx.icon("copy", size=16),
                            "Copy all",
                            variant="soft",
                            on_click=[
                                rx.set_clipboard(_codes_text()),
                                rx.toast("Backup codes copied"),
                            ],
                        ),
                        rx.button(
                            rx.icon("download", size=16),
                            "Download .txt",
                            variant="soft",
                            on_click=rx.download(
                                data=_codes_text(),
                                filename="rxapp-backup-codes.txt",
                            ),
                        ),
                        spacing="3",
                    ),
                    spacing="4",
                    padding_y="1rem",
                ),
                rx.cond(
                    BackupCodesState.replaced,
                    _codes_gone(
                        "The codes shown here no longer work. If you saved them, throw them "
                        "away, and use the newer codes instead.",
                        icon="circle-alert",
                        color="amber",
                        test_id="backup-replaced",
                    ),
                    _codes_gone(
                        "For your security these codes can no longer be shown. If you did not "
                        "save them, close this dialog and choose Generate backup codes: you will "
                        "get a new batch and these stop working.",
                        icon="eye-off",
                        color="gray",
                        test_id="backup-expired",
                    ),
                ),
            ),
            rx.hstack(
                rx.button(
                    "Done",
                    on_click=BackupCodesState.close,
                    custom_attrs=testid("backup-close"),
                ),
                justify="end",
            ),
            max_width="28rem",
            **dialog_focus(),
            **kept_open_while_shown("backup-code"),
        ),
        open=BackupCodesState.open,
        on_open_change=BackupCodesState.close,
    )
