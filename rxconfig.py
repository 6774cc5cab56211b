"""Reflex configuration. Every value can be overridden by a REFLEX_* environment variable."""

import os
import sys

import reflex as rx

from rxapp.closed_network import apply_closed_network_settings
from rxapp.services.database import create_private_sqlite_file
from rxapp.settings import SettingsError, get_settings

apply_closed_network_settings()
# Every setting is checked here, before Reflex runs or migrates anything: a bad one stops
# every entry point (make run, reflex db migrate, the instances) with one line.
try:
    SETTINGS = get_settings()
    # The SQLite file exists (mode 0600) before `reflex db migrate` or the app opens it.
    create_private_sqlite_file(SETTINGS.db_url)
except (SettingsError, OSError) as error:
    print(f"rxapp: error: {error}", file=sys.stderr)
    raise SystemExit(1) from None
DB_URL = SETTINGS.db_url

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
    cors_allowed_origins=list(SETTINGS.allowed_origins),
    # X-Forwarded-For is believed only through this many trusted proxies (the cluster's
    # nginx sets 1); otherwise the client's address is the socket's peer.
    trusted_proxy_hops=SETTINGS.trusted_proxy_hops,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
