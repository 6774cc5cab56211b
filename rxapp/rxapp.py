"""The Reflex app: pages and their on_load guards."""

import sys

import reflex as rx
from starlette.types import ASGIApp

from rxapp import browser_errors, event_guard, housekeeping, http_security, log_redaction, routes
from rxapp.api import api
from rxapp.canonical_urls import canonical_paths
from rxapp.components.early_submit import HOLD_EARLY_SUBMITS
from rxapp.components.widgets import OPENER_TRACKER
from rxapp.pages.index import index_page
from rxapp.pages.login import login_page
from rxapp.pages.not_found import not_found_page
from rxapp.pages.passcode import passcode_page
from rxapp.pages.profile import profile_page
from rxapp.pages.users import users_page
from rxapp.services import secretbox
from rxapp.services.key_check import check_key
from rxapp.settings import get_settings
from rxapp.state import open_tabs
from rxapp.state.auth import AuthState
from rxapp.state.backend_errors import on_backend_exception
from rxapp.state.login import LoginState
from rxapp.state.passcode import PasscodeState
from rxapp.state.passkeys import SCRIPT_SRC as PASSKEYS_SCRIPT
from rxapp.state.profile import ProfileState
from rxapp.state.users import UsersState

# Refuse to start without a usable key for TOTP secrets (a server database needs
# RXAPP_SECRET_KEY), or with one that does not open the secrets stored; the embedded
# default creates its key file here, once.
try:
    check_key(get_settings().db_url)
except secretbox.SecretKeyError as error:
    print(f"rxapp: error: {error}", file=sys.stderr)
    raise SystemExit(1) from None


class SecuredApp(rx.App):
    """Reflex's app inside `http_security.SecurityMiddleware`, outermost: Reflex wraps what
    the api transformers return in its CORS layer, which answers a CORS preflight itself."""

    def __call__(self) -> ASGIApp:
        """The ASGI app the server runs."""
        return http_security.secure(super().__call__())


app = SecuredApp(
    stylesheets=["/styles.css"],
    api_transformer=[api, canonical_paths],
    head_components=[
        rx.el.link(rel="icon", href="/favicon.ico", sizes="32x32"),
        rx.script(OPENER_TRACKER),
        # The passkeys module (assets/passkeys.js): a same-origin script, allowed by the
        # CSP's script-src 'self'.
        rx.script(src=PASSKEYS_SCRIPT),
        rx.el.script(HOLD_EARLY_SUBMITS),  # in the prerendered HTML itself
    ],
    backend_exception_handler=on_backend_exception,
    frontend_exception_handler=browser_errors.on_frontend_exception,
)
event_guard.install(app)
app.register_lifespan_task(housekeeping.purge_expired)
open_tabs.install(app)
log_redaction.install()
http_security.allow_inline_script(OPENER_TRACKER)
http_security.allow_inline_script(HOLD_EARLY_SUBMITS)
# The websocket's origin is checked by http_security before the upgrade (same origin or
# RXAPP_ALLOWED_ORIGINS); Socket.IO's own list (Reflex's CORS list) would refuse the app's
# own pages, which never appear in it.
if app.sio is not None:
    app.sio.eio.cors_allowed_origins = "*"
app.add_page(index_page, route=routes.INDEX, title="rxapp", on_load=AuthState.route_by_session)
app.add_page(login_page, route=routes.LOGIN, title="Log in · rxapp", on_load=LoginState.open_login)
app.add_page(
    passcode_page,
    route=routes.PASSCODE,
    title="Verification code · rxapp",
    on_load=PasscodeState.open_passcode,
)
app.add_page(
    profile_page,
    route=routes.PROFILE,
    title="My profile · rxapp",
    on_load=ProfileState.open_profile,
)
app.add_page(
    users_page, route=routes.USERS, title="All users · rxapp", on_load=UsersState.open_users
)
app.add_page(not_found_page, route="404", title="Page not found · rxapp")
