"""/profile: the account and its two-factor authentication."""

from __future__ import annotations

import reflex as rx

from rxapp.components.activity import activity_card
from rxapp.components.approvals import approval_dialog
from rxapp.components.layout import card, page, testid, when_ready
from rxapp.components.widgets import local_time, on_return, status_badge
from rxapp.pages.profile_dialogs import (
    backup_dialog,
    disable_dialog,
    enroll_dialog,
    reauth_dialog,
)
from rxapp.pages.profile_passkeys import (
    add_passkey_dialog,
    passkeys_card,
    remove_passkey_dialog,
    rename_passkey_dialog,
)
from rxapp.pages.profile_password import password_dialog
from rxapp.state.profile import ProfileState
from rxapp.state.profile_dialogs import (
    TWOFA_HEADING_ID,
    BackupCodesState,
    DisableState,
    EnrollState,
)
from rxapp.state.profile_password import PasswordState


def _notice() -> rx.Component:
    return rx.cond(
        ProfileState.notice != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("info")),
            rx.hstack(
                rx.callout.text(ProfileState.notice, custom_attrs=testid("profile-notice")),
                rx.button(
                    "Dismiss",
                    size="2",
                    variant="soft",
                    color_scheme="amber",
                    high_contrast=True,
                    on_click=ProfileState.dismiss_notice,
                    custom_attrs=testid("profile-notice-dismiss"),
                ),
                justify="between",
                align="center",
                width="100%",
                wrap="wrap",
                gap="2",
            ),
            color_scheme="amber",
            role="status",
            width="100%",
            align="center",
        ),
    )


def account_card() -> rx.Component:
    """Who is signed in."""
    return card(
        rx.heading("Account", size="4", as_="h2"),
        rx.data_list.root(
            rx.data_list.item(
                rx.data_list.label("Email"),
                rx.data_list.value(ProfileState.user_email, custom_attrs=testid("profile-email")),
            ),
            rx.data_list.item(
                rx.data_list.label("Member since"),
                rx.data_list.value(local_time(ProfileState.member_since, with_time=False)),
            ),
            rx.data_list.item(
                rx.data_list.label("Last sign-in"),
                rx.data_list.value(
                    local_time(ProfileState.last_sign_in, custom_attrs=testid("last-sign-in"))
                ),
            ),
            orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
        ),
        rx.box(
            rx.button(
                rx.icon("key-square", size=16),
                "Change password",
                variant="soft",
                on_click=PasswordState.start,
                custom_attrs=testid("change-password"),
            ),
        ),
    )


def _backup_summary() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Unused backup codes:", size="2"),
            rx.text(
                ProfileState.backup_remaining,
                size="2",
                weight="bold",
                custom_attrs=testid("backup-remaining"),
            ),
            spacing="2",
        ),
        rx.cond(
            ProfileState.backup_low,
            rx.callout(
                "You are running out of backup codes. Generate new ones and keep them safe.",
                icon="triangle-alert",
                color_scheme="amber",
                size="1",
                custom_attrs=testid("backup-low-warning"),
            ),
        ),
        spacing="2",
        width="100%",
    )


def twofa_card() -> rx.Component:
    """Status of two-factor authentication and the actions that change it."""
    return card(
        rx.hstack(
            rx.heading(
                "Two-factor authentication",
                size="4",
                as_="h2",
                id=TWOFA_HEADING_ID,
                tab_index=-1,
                outline="none",
                custom_attrs={"data-focus-fallback": "true"},
            ),
            status_badge(ProfileState.twofa_active, test_id="twofa-status"),
            justify="between",
            align="center",
            width="100%",
        ),
        rx.text(
            "Two-factor authentication asks for a code from an app on your phone, or a "
            "passkey, each time you log in, so a stolen password alone cannot open your "
            "account.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            ProfileState.totp_active,
            rx.text(
                "Authenticator app active since ",
                local_time(ProfileState.twofa_since, with_time=False),
                ".",
                size="2",
            ),
            rx.cond(
                ProfileState.twofa_active,
                rx.text("On with passkeys (see below). No authenticator app is set up.", size="2"),
            ),
        ),
        rx.cond(ProfileState.twofa_active, _backup_summary()),
        rx.hstack(
            rx.cond(
                ProfileState.twofa_active,
                rx.button(
                    rx.icon("key-round", size=16),
                    "Generate backup codes",
                    on_click=BackupCodesState.start,
                    custom_attrs=testid("generate-backup-codes"),
                ),
            ),
            rx.cond(
                ProfileState.totp_active,
                rx.button(
                    rx.cond(
                        ProfileState.passkeys.length() > 0,
                        "Remove authenticator app",
                        "Disable 2FA",
                    ),
                    color_scheme="red",
                    variant="soft",
                    high_contrast=True,
                    on_click=DisableState.start,
                    custom_attrs=testid("disable-2fa"),
                ),
                rx.button(
                    rx.icon("shield-plus", size=16),
                    rx.cond(ProfileState.twofa_active, "Add an authenticator app", "Enable 2FA"),
                    on_click=EnrollState.start,
                    custom_attrs=testid("enable-2fa"),
                ),
            ),
            spacing="3",
            wrap="wrap",
        ),
    )


def profile_page() -> rx.Component:
    """The profile page: nothing of the account is drawn before the server has read it."""
    return page(
        when_ready(
            ProfileState.profile_loaded,
            "Loading your profile…",
            _notice(),
            account_card(),
            twofa_card(),
            passkeys_card(),
            activity_card(),
        ),
        enroll_dialog(),
        reauth_dialog(),
        disable_dialog(),
        backup_dialog(),
        add_passkey_dialog(),
        rename_passkey_dialog(),
        remove_passkey_dialog(),
        approval_dialog(),
        password_dialog(),
        on_return(ProfileState.refresh),
        title="My profile",
        signed_in=True,
        width="40rem",
        focus_heading=True,
    )
