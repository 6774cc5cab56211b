"""The 404 page, in the app's own layout."""

from __future__ import annotations

import reflex as rx

from rxapp.components.layout import card, page, testid


def not_found_page() -> rx.Component:
    """An unknown address: say so and offer the way back."""
    return page(
        card(
            rx.text(
                "There is no page at this address. It may have moved, or the link may have a typo.",
                size="2",
            ),
            rx.hstack(
                rx.button(
                    rx.link(
                        "Go to the start",
                        href="/",
                        _hover={"color": "white"},
                        custom_attrs=testid("not-found-home"),
                    ),
                    as_child=True,
                    size="3",
                ),
                wrap="wrap",
            ),
        ),
        title="Page not found",
        signed_in=False,
        focus_heading=True,
    )
