"""Reflex configuration. Every value can be overridden by a REFLEX_* environment variable."""

import os

import reflex as rx

from rxapp.closed_network import apply_closed_network_settings
from rxapp.settings import DEFAULT_DB_URL

apply_closed_network_settings()

config = rx.Config(
    app_name="rxapp",
    # The embedded default: a SQLite file in the project. REFLEX_DB_URL overrides it.
    db_url=os.environ.get("REFLEX_DB_URL") or DEFAULT_DB_URL,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
