"""The page frame: a header with the product name and, when signed in, the account menu."""

from __future__ import annotations

import reflex as rx

from rxapp.state.auth import AuthState


def testid(value: str) -> dict[str, str]:
    """The `data-testid` attribute that users' Playwright flows rely on."""
    return {"data-testid": value}


def header(*, signed_in: bool) -> rx.Component:
    """The top bar; with `signed_in`, the account's email, an admin link and `logout`."""
    right = (
        rx.el.nav(
            rx.hstack(
                rx.cond(
                    AuthState.user_is_admin,
                    rx.link("All users", href="/users", size="2"),
                ),
                rx.link("Profile", href="/profile", size="2"),
                rx.text(
                    AuthState.user_email,
                    size="2",
                    color_scheme="gray",
                    display=["none", "none", "block"],
                ),
                rx.button(
                    "Log out",
                    on_click=AuthState.logout,
                    variant="soft",
                    size="2",
                    custom_attrs=testid("logout"),
                ),
                spacing="4",
                align="center",
                wrap="wrap",
                justify="end",
            ),
            aria_label="Account",
        )
        if signed_in
        else rx.fragment()
    )
    return rx.el.header(
        rx.hstack(
            rx.hstack(
                rx.icon("shield-check", size=22, color=rx.color("accent", 9)),
                rx.text("rxapp", size="5", weight="bold"),
                spacing="2",
                align="center",
            ),
            right,
            justify="between",
            align="center",
            width="100%",
            max_width="72rem",
            margin_x="auto",
            padding_x="1.5rem",
            padding_y="0.9rem",
        ),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
    )


def page(
    *children: rx.Component, title: str, signed_in: bool, width: str = "28rem"
) -> rx.Component:
    """A page: header, then a centred column of `width` with a heading."""
    return rx.box(
        header(signed_in=signed_in),
        rx.el.main(
            rx.vstack(
                rx.heading(title, size="7", as_="h1"),
                *children,
                spacing="5",
                width="100%",
                max_width=width,
                margin_x="auto",
                padding_x="1.5rem",
                padding_y="2.5rem",
            ),
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )


def card(*children: rx.Component, **props: object) -> rx.Component:
    """A white panel grouping one task."""
    return rx.card(rx.vstack(*children, spacing="4", width="100%"), width="100%", size="3", **props)
