"""Pages answer at their canonical address (`/profile`) without a redirect.

The production build stores each page as `<route>/index.html`; Starlette's static files
answer `/profile` with a 307 to `/profile/`, a round trip on every direct page load. This
ASGI wrapper serves the page's file for the canonical path directly.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from rxapp import routes

PAGES = frozenset({routes.LOGIN, routes.PASSCODE, routes.PROFILE, routes.USERS})


def canonical_paths(app: ASGIApp) -> ASGIApp:
    """Wrap `app` so that a GET of a page route reads its `index.html` without a 307."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in PAGES:
            path = scope["path"] + "/"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await app(scope, receive, send)

    return serve
