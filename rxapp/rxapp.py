"""The Reflex app: pages and their on_load guards."""

import reflex as rx

from rxapp import routes
from rxapp.pages.index import index_page
from rxapp.pages.login import login_page
from rxapp.pages.profile import profile_page
from rxapp.state.auth import AuthState
from rxapp.state.login import LoginState
from rxapp.state.profile import ProfileState

app = rx.App(stylesheets=["/styles.css"])
app.add_page(index_page, route=routes.INDEX, title="rxapp", on_load=AuthState.route_by_session)
app.add_page(login_page, route=routes.LOGIN, title="Log in · rxapp", on_load=LoginState.open_login)
app.add_page(
    profile_page, route=routes.PROFILE, title="My profile · rxapp", on_load=ProfileState.open_profile
)
