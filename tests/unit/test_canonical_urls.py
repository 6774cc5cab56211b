"""Page routes are served at their canonical path, without a redirect to a trailing slash."""

from __future__ import annotations

from rxapp.canonical_urls import canonical_paths, recased_page
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


def _answer(path: str, query: bytes = b"") -> list[dict]:
    sent: list[dict] = []

    async def app(scope, receive, send):
        raise AssertionError("a page in other letter case never reaches the app")

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "query_string": query}
    run_async(canonical_paths(app)(scope, None, send))
    return sent


def test_a_page_in_other_letter_case_is_sent_to_its_own_address_with_its_query():
    start, body = _answer("/Users/", b"twofa=activated")
    assert start["status"] == 308
    assert dict(start["headers"])[b"location"] == b"/users?twofa=activated"
    assert body["body"] == b""
    assert dict(_answer("/PROFILE")[0]["headers"])[b"location"] == b"/profile"


def test_only_pages_are_recased():
    assert recased_page("/Passcode") == "/passcode"
    assert recased_page("/login") is None
    assert recased_page("/login/") is None
    assert recased_page("/Favicon.ico") is None
    assert recased_page("/") is None
    assert recased_page("/Profile/extra") is None
