"""Page routes are served at their canonical path, without a redirect to a trailing slash."""

from __future__ import annotations

from rxapp.canonical_urls import canonical_paths
from tests.unit.async_helpers import run_async


def _path_seen(path: str) -> str:
    seen = {}

    async def app(scope, receive, send):
        seen["path"] = scope["path"]

    run_async(canonical_paths(app)({"type": "http", "path": path}, None, None))
    return seen["path"]


def test_a_page_route_reads_its_index_without_a_redirect():
    assert _path_seen("/profile") == "/profile/"
    assert _path_seen("/users") == "/users/"


def test_other_paths_pass_unchanged():
    assert _path_seen("/api/users.csv") == "/api/users.csv"
    assert _path_seen("/favicon.ico") == "/favicon.ico"
    assert _path_seen("/profile/") == "/profile/"
