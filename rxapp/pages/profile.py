"""/profile: the account and its two-factor authentication."""

from __future__ import annotations

import reflex as rx

from rxapp.components.layout import card, page
from rxapp.state.profile import ProfileState


def account_card() -> rx.Component:
    """Who is signed in."""
    return card(
        rx.heading("Account", size="4", as_="h2"),
        rx.data_list.root(
            rx.data_list.item(
                rx.data_list.label("Email"),
                rx.data_list.value(ProfileState.user_email, custom_attrs={"data-testid": "profile-email"}),
            ),
            rx.data_list.item(
                rx.data_list.label("Member since"), rx.data_list.value(ProfileState.member_since)
            ),
            rx.data_list.item(
                rx.data_list.label("Signed in"), rx.data_list.value(ProfileState.last_sign_in)
            ),
        ),
    )


def profile_page() -> rx.Component:
    """The profile page."""
    return page(account_card(), title="My profile", signed_in=True, width="40rem")
