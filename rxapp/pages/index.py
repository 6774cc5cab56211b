"""/: redirects by session state."""

import reflex as rx

from rxapp.components.layout import loading_state, page


def index_page() -> rx.Component:
    """Shown for a moment while the session is checked, in the app's own layout."""
    return page(loading_state("Checking your sign-in…"), title="rxapp", signed_in=False)
