"""/users: every user's 2FA status, for admins."""

from __future__ import annotations

import reflex as rx

from rxapp.components.approvals import approval_dialog
from rxapp.components.fields import proof_input
from rxapp.components.layout import page, testid, when_ready
from rxapp.components.widgets import (
    TIME_ZONE,
    dialog_actions,
    dialog_focus,
    local_time,
    scroll_region,
    status_badge,
    wait_countdown,
)
from rxapp.services.users_query import StatusFilter
from rxapp.state.users import Row, UsersState

FILTERS = (
    ("all", "All"),
    ("activated", "Activated"),
    ("not_activated", "Not activated"),
    ("required", "Required, not activated"),
    ("has_passkey", "Has a passkey"),
)


# Fixed column widths: the table does not shift when a filter changes its rows.
COLUMNS = ("15.5rem", "8rem", "8rem", "8rem", "12rem", "6.5rem", "5rem", "6rem")  # 69rem in all


def _header(label: str, width: str, *, numbers: bool = False) -> rx.Component:
    """A column's header; over a column of `numbers`, aligned with them on the right."""
    return rx.table.column_header_cell(
        rx.text(label, size="1", weight="bold"),
        min_width=width,
        width=width,
        text_align="right" if numbers else "left",
    )


def _sortable(label: str, key: str, width: str) -> rx.Component:
    arrow = rx.cond(
        UsersState.sort == key,
        rx.cond(
            UsersState.descending, rx.icon("arrow-down", size=14), rx.icon("arrow-up", size=14)
        ),
        rx.icon("arrow-up-down", size=14, opacity="0.35"),
    )
    return rx.table.column_header_cell(
        rx.button(
            rx.text(label, size="1", weight="bold"),
            arrow,
            variant="ghost",
            color_scheme="gray",
            high_contrast=True,
            size="1",
            margin="0",
            padding="0",
            on_click=UsersState.sort_by(key),
            custom_attrs=testid(f"users-sort-{key.replace('_', '-')}"),
        ),
        min_width=width,
        width=width,
        aria_sort=rx.cond(
            UsersState.sort == key,
            rx.cond(UsersState.descending, "descending", "ascending"),
            "none",
        ),
    )


def _row(row: Row) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.hstack(
                # Rows stay one line (on phones too): an address longer than its column ends
                # in an ellipsis rather than run over the next one; the whole of it is still
                # the text (read out, copied, searched) and the tooltip.
                rx.text(
                    row["email"],
                    overflow="hidden",
                    text_overflow="ellipsis",
                    min_width="0",
                    title=row["email"],
                    custom_attrs=testid("user-email"),
                ),
                rx.cond(
                    row["admin"],
                    rx.badge("admin", size="1", variant="outline", flex_shrink="0"),
                ),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(
            status_badge(row["status"] == "Activated", test_id="user-2fa-status", size="1")
        ),
        # Since when 2FA is on; for an account without it that the 2FA policy asks to use
        # it, by when.
        rx.table.cell(
            rx.cond(
                row["required_by"] != "",
                rx.text(
                    "required by",
                    rx.el.br(),  # the date on a line of its own: the column fits a date
                    local_time(row["required_by"], with_time=False),
                    size="1",
                    color_scheme="gray",
                    custom_attrs=testid("user-2fa-required-by"),
                ),
                local_time(row["enabled"], with_time=False),
            )
        ),
        rx.table.cell(local_time(row["created"], with_time=False)),
        rx.table.cell(local_time(row["last_sign_in"])),
        rx.table.cell(row["backup_codes"], text_align="right"),
        rx.table.cell(row["passkeys"], text_align="right", custom_attrs=testid("user-passkeys")),
        rx.table.cell(
            rx.cond(
                (row["status"] == "Activated") & ~row["me"],
                rx.button(
                    "Reset 2FA",
                    size="1",
                    variant="outline",
                    color_scheme="gray",
                    on_click=UsersState.ask_reset(row["id"]),
                    aria_label="Reset 2FA of " + row["email"],
                    custom_attrs=testid("user-reset-2fa"),
                ),
            )
        ),
        custom_attrs=testid("user-row"),
    )


def _toolbar() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.el.label(rx.text("2FA status", size="1", weight="medium"), html_for="users-filter"),
            rx.el.select(
                *[rx.el.option(label, value=value) for value, label in FILTERS],
                id="users-filter",
                value=UsersState.status_filter,
                on_change=UsersState.set_status_filter,
                custom_attrs=testid("users-filter"),
                class_name="rx-native-select",
            ),
            spacing="1",
        ),
        rx.vstack(
            rx.el.label(
                rx.text("Search by email", size="1", weight="medium"), html_for="users-search"
            ),
            rx.input(
                id="users-search",
                placeholder="Start of an email…",
                type="search",
                debounce_timeout=300,
                on_change=UsersState.set_search,
                max_length=254,
                width=["100%", "18rem"],
                custom_attrs=testid("users-search"),
            ),
            spacing="1",
            width=["100%", "auto"],
        ),
        rx.spacer(),
        rx.button(
            rx.icon("download", size=16),
            "Export CSV",
            variant="soft",
            on_click=UsersState.export_csv,
            custom_attrs=testid("users-export"),
        ),
        align="end",
        spacing="4",
        width="100%",
        wrap="wrap",
    )


def _summary() -> rx.Component:
    return rx.hstack(
        rx.text(
            rx.el.span(
                UsersState.total_text,
                custom_attrs={**testid("users-count"), "data-count": UsersState.total},
            ),
            " ",
            UsersState.matching_label,
            size="2",
            weight="medium",
        ),
        rx.text("·", color_scheme="gray", class_name="summary-separator", aria_hidden="true"),
        rx.text(
            # The status counts never follow the filter: say so when one is chosen.
            rx.cond(
                UsersState.status_filter != StatusFilter.ALL.value,
                "Across all statuses: Activated ",
                "Activated ",
            ),
            rx.el.span(
                UsersState.activated_text,
                custom_attrs={
                    **testid("users-count-activated"),
                    "data-count": UsersState.activated,
                },
                class_name="tabular",
            ),
            " · Not activated ",
            rx.el.span(
                UsersState.not_activated_text,
                custom_attrs={
                    **testid("users-count-not-activated"),
                    "data-count": UsersState.not_activated,
                },
                class_name="tabular",
            ),
            size="2",
            color_scheme="gray",
        ),
        spacing="2",
        wrap="wrap",
        role="status",
        aria_live="polite",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            variant="soft",
            disabled=UsersState.page <= 1,
            on_click=UsersState.previous_page,
            custom_attrs=testid("users-page-prev"),
        ),
        rx.text(
            "Page ",
            UsersState.page,
            " of ",
            UsersState.pages,
            size="2",
            custom_attrs=testid("users-page"),
        ),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            variant="soft",
            disabled=UsersState.page >= UsersState.pages,
            on_click=UsersState.next_page,
            custom_attrs=testid("users-page-next"),
        ),
        justify="center",
        align="center",
        spacing="4",
        width="100%",
    )


def _reset_proof() -> rx.Component:
    return rx.cond(
        UsersState.reset_needs_proof,
        rx.box(
            proof_input(
                is_code=UsersState.reset_proof_is_code,
                error=UsersState.reset_error,
                label=rx.cond(
                    UsersState.reset_proof_is_code,
                    "To confirm it's you, a code from your authenticator app or a backup code",
                    "To confirm it's you, your password",
                ),
            ),
            wait_countdown(
                UsersState.reset_wait_seconds,
                message=UsersState.reset_error,
                answers=UsersState.reset_answers,
                test_id="reauth-wait",
            ),
            padding_top="1rem",
            width="100%",
        ),
    )


def _reset_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Reset two-factor authentication?"),
            rx.alert_dialog.description(
                "This deletes the authenticator key, passkeys and backup codes of ",
                rx.text.strong(UsersState.reset_email),
                " and signs them out everywhere. They will sign in with their password "
                "alone until they enable 2FA again.",
                size="2",
            ),
            rx.form(
                _reset_proof(),
                rx.box(
                    dialog_actions(
                        "Cancel",
                        "Reset 2FA",
                        test_id="reset-confirm",
                        answers=UsersState.reset_answers,
                        close=rx.alert_dialog.cancel,
                        danger=True,
                    ),
                    padding_top="1rem",
                ),
                on_submit=UsersState.confirm_reset,
                reset_on_submit=True,
            ),
            max_width="28rem",
            **dialog_focus(),
        ),
        open=UsersState.reset_open,
        on_open_change=UsersState.cancel_reset,
    )


def _table() -> rx.Component:
    """The table; on a narrow screen it scrolls sideways, and says so."""
    return rx.vstack(
        rx.text(
            "Times in your time zone (",
            rx.el.span(TIME_ZONE),
            ").",
            rx.el.span(
                " Scroll the table sideways to see every column.",
                display=["inline", "inline", "none"],
            ),
            size="1",
            color_scheme="gray",
        ),
        scroll_region(
            # Radix's Table.Root puts every prop (the test id too) on its wrapper; the
            # `users-table` id belongs on the <table> itself, so the table is written out
            # with Radix's classes (its scroll area, which .table-scroll turns off, left out).
            rx.el.div(
                rx.el.table(
                    rx.el.thead(
                        rx.table.row(
                            _sortable("Email", "email", COLUMNS[0]),
                            _header("2FA", COLUMNS[1]),
                            _header("2FA since", COLUMNS[2]),
                            _sortable("Created", "created", COLUMNS[3]),
                            _sortable("Last sign-in", "last_sign_in", COLUMNS[4]),
                            _header("Backup codes", COLUMNS[5], numbers=True),
                            _header("Passkeys", COLUMNS[6], numbers=True),
                            rx.table.column_header_cell(
                                rx.el.span("Actions", class_name="sr-only"), width=COLUMNS[7]
                            ),
                        ),
                        class_name="rt-TableHeader",
                    ),
                    rx.el.tbody(rx.foreach(UsersState.rows, _row), class_name="rt-TableBody"),
                    class_name="rt-TableRootTable",
                    custom_attrs=testid("users-table"),
                ),
                class_name="rt-TableRoot rt-r-size-1 rt-variant-surface fixed-columns",
            ),
            label="Users table",
            custom_attrs=testid("users-table-scroll"),
        ),
        spacing="2",
        width="100%",
    )


def users_page() -> rx.Component:
    """The All users dashboard."""
    return page(
        rx.text(
            "Two-factor authentication status of every account. Filter, search by email, and "
            "reset 2FA for someone who lost their phone and their backup codes.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            UsersState.filter_notice != "",
            rx.callout(
                UsersState.filter_notice,
                icon="info",
                color_scheme="amber",
                role="status",
                custom_attrs=testid("users-filter-notice"),
            ),
        ),
        when_ready(
            UsersState.users_loaded,
            "Loading users…",
            _toolbar(),
            _summary(),
            _table(),
            rx.cond(
                UsersState.total == 0,
                rx.callout(
                    "No users match this filter and search.",
                    icon="search-x",
                    color_scheme="gray",
                    custom_attrs=testid("users-empty"),
                ),
                _pager(),
            ),
        ),
        _reset_dialog(),
        approval_dialog(),
        title="All users",
        signed_in=True,
        width="72rem",
        focus_heading=True,
    )
