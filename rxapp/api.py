"""HTTP endpoints beside the Reflex app: the admin CSV export.

A browser download cannot carry the session token, so the dashboard hands out a signed link
valid for one minute; this endpoint checks it and the admin role again before streaming.
"""

from __future__ import annotations

from collections.abc import Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from rxapp.models import User
from rxapp.services import policy, sessions, signed_links, users_export, users_query
from rxapp.services.clock import utcnow
from rxapp.services.database import session_for
from rxapp.settings import get_settings

EXPORT_PURPOSE = "users-csv"
EXPORT_PATH = "/api/users.csv"


def _stream(view: dict, admin_id: int) -> Iterator[str]:
    with session_for(get_settings().db_url) as db:
        admin = db.get(User, admin_id)
        if admin is None or not policy.may_use_dashboard(admin):
            return
        yield from users_export.csv_lines(
            db,
            status=users_query.parse_filter(view.get("twofa")),
            search=users_query.normalize_search(view.get("q")),
            sort=users_query.parse_sort(view.get("sort", "email")),
            descending=bool(view.get("desc")),
        )


def export_users(request: Request) -> Response:
    """GET /api/users.csv?token=...: the signed view as CSV, for admins only."""
    now = utcnow()
    token = request.query_params.get("token")
    view = signed_links.verify(EXPORT_PURPOSE, token, now=now)
    if view is None or not isinstance(view.get("admin"), int):
        return PlainTextResponse("This export link is invalid or has expired.", status_code=403)
    with session_for(get_settings().db_url) as db:
        if not signed_links.spend(db, token, now=now):
            return PlainTextResponse("This export link has been used already.", status_code=403)
        # The link works only while the admin session that asked for it is live.
        admin = sessions.live_session_user(db, view.get("session"), now=now)
        if admin is None or admin.id != view["admin"]:
            return PlainTextResponse(
                "This export link belongs to a session that has ended.", status_code=403
            )
        if not policy.may_use_dashboard(admin):
            return PlainTextResponse(
                "Only admins with two-factor authentication can export users.", status_code=403
            )
    try:
        users_query.parse_filter(view.get("twofa"))
        users_query.parse_sort(view.get("sort", "email"))
    except users_query.QueryError as error:
        return PlainTextResponse(str(error), status_code=400)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        _stream(view, view["admin"]),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="rxapp-users-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


api = Starlette(routes=[Route(EXPORT_PATH, export_users, methods=["GET"])])
