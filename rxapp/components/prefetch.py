"""Load the scripts of the page a person goes to next while they type, so that arriving
there waits for no download and no script evaluation (nor for the making of its date
formatters, whose first one loads the locale's data).

Once the page is live (a React effect: never in the prerendered HTML, where it would
compete with the first paint), the browser, when idle, imports the route modules of the
next pages as react-router's manifest names them; react-router's own `import()` of the
route on navigation then finds them evaluated already. Same-origin modules: the CSP allows.
"""

from __future__ import annotations

import json

import reflex as rx
from reflex_base.components.component import field
from reflex_base.vars.base import Var, VarData

from rxapp.components.widgets import PREPARE_DATE_FORMATS


class PreloadPages(rx.Fragment):
    """Imports the route modules of `paths` and makes the date formatters when the browser is
    idle (renders nothing)."""

    paths: tuple[str, ...] = field(default=(), is_javascript_property=False)

    def add_hooks(self) -> list[str | Var]:
        """The effect that imports the modules."""
        wanted = json.dumps([path.strip("/") for path in self.paths])
        code = (
            "useEffect(() => { const idle = window.requestIdleCallback || "
            "((f) => setTimeout(f, 1)); idle(() => { "
            "const routes = Object.values(window.__reactRouterManifest?.routes || {}); "
            f"for (const path of {wanted}) {{ const route = routes.find((r) => r.path === path); "
            "if (route) import(route.module).catch(() => {}); } "
            f"{PREPARE_DATE_FORMATS}; }}); }}, []);"
        )
        return [Var(_js_expr=code, _var_data=VarData(imports={"react": ["useEffect"]}))]


def prefetch_pages(*routes: str) -> rx.Component:
    """Preload the pages at `routes` (e.g. `/passcode` from the login page)."""
    return PreloadPages.create(paths=routes)
