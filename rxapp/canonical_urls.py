"""Pages answer at their canonical address (`/profile`) without a redirect.

The production build stores each page as `<route>/index.html`; Starlette's static files
answer `/profile` with a 307 to `/profile/`, a round trip on every direct page load. This
ASGI wrapper serves the page's file for the canonical path directly.

A page's address typed in other letter case (`/Profile`) is sent to the canonical one with
a 308: the browser's router would draw the page, but the server runs a page's on_load only
for its own address, and the page would wait for its data forever.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from rxapp import routes

PAGES = frozenset({routes.LOGIN, routes.PASSCODE, routes.PROFILE, routes.USERS})


def recased_page(path: str) -> str | None:
    """The canonical address of the page `path` names in other letter case, else None."""
    trimmed = path.rstrip("/")
    canonical = trimmed.lower()
    if canonical in PAGES and trimmed != canonical:
        return canonical
    return None


def canonical_paths(app: ASGIApp) -> ASGIApp:
    """Wrap `app` so that a GET of a page route reads its `index.html` without a 307, and a
    page's address in other letter case is redirected to its own."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = recased_page(scope.get("path", ""))
            if target is not None:
                await _redirect(scope, send, target)
                return
            if scope.get("path") in PAGES:
                path = scope["path"] + "/"
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await app(scope, receive, send)

    return serve


async def _redirect(scope: Scope, send: Send, target: str) -> None:
    query = scope.get("query_string", b"")
    location = target.encode() + (b"?" + query if query else b"")
    await send(
        {
            "type": "http.response.start",
            "status": 308,
            "headers": [(b"location", location), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
