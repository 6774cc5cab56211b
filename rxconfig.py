"""Reflex configuration. Every value can be overridden by a REFLEX_* environment variable."""

import os

import reflex as rx

from rxapp.closed_network import apply_closed_network_settings
from rxapp.services.database import create_private_sqlite_file
from rxapp.settings import DEFAULT_DB_URL

apply_closed_network_settings()
DB_URL = os.environ.get("REFLEX_DB_URL") or DEFAULT_DB_URL
# The SQLite file exists (mode 0600) before `reflex db migrate` or the app opens it.
create_private_sqlite_file(DB_URL)

config = rx.Config(
    app_name="rxapp",
    # The embedded default: a SQLite file in the project. REFLEX_DB_URL overrides it.
    db_url=DB_URL,
    # Tab state in this process's memory, not pickled to .states/ on disk: nothing a tab
    # shows lands in a file, and a restart loses only what the database re-proves at the
    # next connection. Several instances share Redis instead (REFLEX_REDIS_URL).
    state_manager_mode="redis" if os.environ.get("REFLEX_REDIS_URL") else "memory",
    telemetry_enabled=False,
    # Reflex's CORS layer echoes only these (RXAPP_ALLOWED_ORIGINS; none by default): the
    # app's own pages never need CORS, and rxapp/http_security.py refuses other origins.
    cors_allowed_origins=[
        origin.strip()
        for origin in (os.environ.get("RXAPP_ALLOWED_ORIGINS") or "").split(",")
        if origin.strip()
    ],
    # X-Forwarded-For is believed only through this many trusted proxies (the cluster's
    # nginx sets 1); otherwise the client's address is the socket's peer.
    trusted_proxy_hops=int(os.environ.get("RXAPP_TRUSTED_PROXY_HOPS") or 0),
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
