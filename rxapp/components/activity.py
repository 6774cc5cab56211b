"""The profile's "Recent security activity" card, like GitHub's security log."""

from __future__ import annotations

import reflex as rx

from rxapp.components.layout import card, testid
from rxapp.components.widgets import local_time, scroll_region
from rxapp.state.auth import AuthState
from rxapp.state.profile import ActivityRow, ProfileState


def _line(item: ActivityRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(local_time(item["when"]), class_name="wraps", min_width="5.5rem"),
        rx.table.cell(item["what"], class_name="wraps", min_width="6.5rem"),
        rx.table.cell(item["where"], class_name="wraps", min_width="6rem"),
        custom_attrs=testid("activity-row"),
    )


def activity_card() -> rx.Component:
    """Sign-ins, failures and 2FA changes of the account, newest first, with where from."""
    return card(
        rx.heading("Recent security activity", size="4", as_="h2"),
        rx.text(
            "If you do not recognise something here, change your password, ",
            rx.cond(
                ProfileState.twofa_active,
                "generate new backup codes (the old ones stop working), remove any passkey "
                "you do not know, ",
                "turn on two-factor authentication, ",
            ),
            rx.cond(AuthState.user_is_admin, "and tell another admin.", "and tell your admin."),
            size="2",
            color_scheme="gray",
            custom_attrs=testid("activity-advice"),
        ),
        scroll_region(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("When"),
                        rx.table.column_header_cell("What"),
                        rx.table.column_header_cell("From"),
                    )
                ),
                rx.table.body(rx.foreach(ProfileState.activity, _line)),
                size="1",
                width="100%",
                class_name="fits",
                custom_attrs=testid("activity-table"),
            ),
            label="Recent security activity",
        ),
    )
