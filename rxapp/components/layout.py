"""The page frame: a skip link, a header with the product name and, when signed in, the
account menu; then the main landmark with the page's level-one heading."""

from __future__ import annotations

import reflex as rx

from rxapp.components.early_submit import live_marker
from rxapp.state.auth import AuthState

MAIN_ID = "main"
HEADING_ID = "page-heading"


def testid(value: str) -> dict[str, str]:
    """The `data-testid` attribute that users' Playwright flows rely on."""
    return {"data-testid": value}


def focus_script(element_id: str) -> rx.event.EventSpec:
    """Move keyboard focus to the element with `element_id` (if it is on the page)."""
    return rx.call_script(f"document.getElementById('{element_id}')?.focus()")


def keep_focus_script(element_id: str) -> rx.event.EventSpec:
    """Move focus to `element_id` if it was lost (the focused control went away, as a
    button replaced by what it started does), so keyboard users go on from there."""
    # After the frame in which the page changed: the replaced control is gone by then.
    return rx.call_script(
        "requestAnimationFrame(() => { if (!document.activeElement || "
        "document.activeElement === document.body) "
        f"document.getElementById('{element_id}')?.focus(); }})"
    )


# After a navigation inside the app (not on a fresh load, where a screen reader starts at
# the top and the skip link comes first), focus the new page's heading when it asks for it.
def _on_page_shown(*, focus_heading: bool) -> rx.event.EventSpec:
    focus = f"document.getElementById('{HEADING_ID}')?.focus(); " if focus_heading else ""
    return rx.call_script(f"if (window.__rxPageShown) {{ {focus}}} window.__rxPageShown = true;")


# Reflex gives links a pale hover colour (accent 8): too little contrast.
LINK_HOVER = {"color": rx.color("accent", 12)}


def skip_link() -> rx.Component:
    """The first focusable element: jumps past the header to the main content."""
    return rx.el.a(
        "Skip to main content",
        href=f"#{MAIN_ID}",
        on_click=[rx.prevent_default, focus_script(MAIN_ID)],
        class_name="skip-link",
        custom_attrs=testid("skip-link"),
    )


def _nav_link(label: str, href: str) -> rx.Component:
    return rx.link(label, href=href, size="2", _hover=LINK_HOVER)


def _account_nav() -> rx.Component:
    """Shown only once the server has said who is signed in."""
    return rx.cond(
        AuthState.user_email != "",
        rx.el.nav(
            rx.hstack(
                rx.cond(AuthState.user_is_admin, _nav_link("All users", "/users")),
                _nav_link("Profile", "/profile"),
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
        ),
    )


def header(*, signed_in: bool) -> rx.Component:
    """The top bar; with `signed_in`, the account's email, an admin link and `logout`."""
    return rx.el.header(
        rx.hstack(
            rx.link(
                rx.hstack(
                    rx.icon("shield-check", size=22, color=rx.color("accent", 11)),
                    rx.text("rxapp", size="5", weight="bold", color=rx.color("gray", 12)),
                    spacing="2",
                    align="center",
                ),
                href="/",
                underline="none",
                _hover=LINK_HOVER,
                aria_label="rxapp home",
            ),
            _account_nav() if signed_in else rx.fragment(),
            justify="between",
            align="center",
            width="100%",
            max_width="72rem",
            margin_x="auto",
            padding_x=["1rem", "1.5rem"],
            padding_y="0.9rem",
            wrap="wrap",
            gap="2",
        ),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
    )


def loading_state(label: str) -> rx.Component:
    """A neutral placeholder while the server confirms the session; announced politely."""
    return rx.vstack(
        rx.hstack(
            rx.spinner(size="2"),
            rx.text(label, size="2", color_scheme="gray"),
            spacing="2",
            align="center",
            role="status",
            aria_live="polite",
        ),
        rx.skeleton(rx.box(height="6rem", width="100%"), loading=True, width="100%"),
        rx.skeleton(rx.box(height="10rem", width="100%"), loading=True, width="100%"),
        spacing="4",
        width="100%",
        custom_attrs=testid("page-loading"),
    )


def when_ready(ready: rx.Var[bool], label: str, *children: rx.Component) -> rx.Component:
    """`children` once `ready`, until then the loading state: nothing protected is drawn
    before the server has confirmed who is signed in."""
    return rx.cond(
        ready,
        rx.vstack(*children, spacing="5", width="100%"),
        loading_state(label),
    )


def page(
    *children: rx.Component,
    title: str,
    signed_in: bool,
    width: str = "28rem",
    focus_heading: bool = False,
) -> rx.Component:
    """A page: skip link, header, then a centred column of `width` with the level-one heading.

    With `focus_heading`, keyboard focus moves to the heading after a navigation, so a
    screen reader announces the new page (forms that focus their first field do not)."""
    heading = rx.heading(
        title,
        size="7",
        as_="h1",
        id=HEADING_ID,
        tab_index=-1,
        outline="none",
        on_mount=_on_page_shown(focus_heading=focus_heading),
    )
    return rx.box(
        live_marker(),
        skip_link(),
        header(signed_in=signed_in),
        rx.el.main(
            rx.vstack(
                heading,
                *children,
                spacing="5",
                width="100%",
                max_width=width,
                margin_x="auto",
                padding_x=["1rem", "1.5rem"],
                padding_y=["1.5rem", "2.5rem"],
            ),
            id=MAIN_ID,
            tab_index=-1,
            outline="none",
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )


def card(*children: rx.Component, **props: object) -> rx.Component:
    """A white panel grouping one task."""
    return rx.card(
        rx.vstack(*children, spacing="4", width="100%"),
        width="100%",
        size=rx.breakpoints(initial="2", sm="3"),
        **props,
    )
