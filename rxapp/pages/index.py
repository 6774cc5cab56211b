"""/: redirects by session state."""

import reflex as rx


def index_page() -> rx.Component:
    """Shown for a moment while the session is checked."""
    return rx.center(
        rx.spinner(size="3"), rx.el.span("Loading", class_name="sr-only"), height="100vh"
    )
