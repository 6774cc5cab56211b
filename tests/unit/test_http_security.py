"""The same-origin check of every request and websocket upgrade (rxapp.http_security)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from rxapp.http_security import SecurityMiddleware, origin_allowed
from rxapp.settings import get_settings

MALFORMED_ORIGINS = [
    "http://localhost:3300.evil.com",
    "http://a:99999999",
    "http://[::1",
    "http://localhost:-1",
]


@pytest.mark.parametrize("origin", MALFORMED_ORIGINS)
def test_a_malformed_origin_is_not_the_apps(origin: str) -> None:
    assert not origin_allowed(origin, "localhost:3300", "http")


@pytest.mark.parametrize("host", ["localhost:abc", "[::1", ""])
def test_a_malformed_host_matches_no_origin(host: str) -> None:
    assert not origin_allowed("http://localhost:3300", host, "http")
    assert not origin_allowed("http://[::1", host, "http")


def test_the_apps_own_origin_is_allowed() -> None:
    assert origin_allowed("http://localhost:3300", "localhost:3300", "http")
    assert origin_allowed("https://rx.example", "rx.example", "https")


def _request(origin: str | None, host: str, path: str = "/login") -> list[dict]:
    """What the middleware sends for a GET with these headers (the app behind it: a 200)."""
    sent: list[dict] = []

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "scheme": "http",
        "headers": [
            *([(b"origin", origin.encode())] if origin is not None else []),
            (b"host", host.encode()),
        ],
    }
    asyncio.run(SecurityMiddleware(app)(scope, receive, send))
    return sent


@pytest.mark.parametrize(
    ("origin", "host"),
    [("http://[::1", "localhost:3300"), ("http://localhost:3300", "localhost:abc")],
)
def test_a_malformed_origin_or_host_gets_a_403_with_the_security_headers(
    origin: str, host: str
) -> None:
    start, body = _request(origin, host)
    headers = dict(start["headers"])
    assert start["status"] == 403
    assert body["body"] == b"Requests from other sites are not accepted."
    assert headers[b"x-frame-options"] == b"DENY"
    assert b"content-security-policy" in headers


@pytest.mark.parametrize("origin", ["null", "http://[::1", "https://evil.example:99999"])
def test_a_listed_origin_is_allowed_and_a_malformed_origin_still_is_not(
    monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    monkeypatch.setenv("RXAPP_ALLOWED_ORIGINS", "https://app.example:443, http://b.example:8080")
    get_settings.cache_clear()
    try:
        assert not origin_allowed(origin, "localhost:3300", "http")
        assert origin_allowed("https://app.example", "localhost:3300", "http")
        assert origin_allowed("http://b.example:8080", "localhost:3300", "http")
        assert not origin_allowed("http://b.example", "localhost:3300", "http")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.fixture
def public_origin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RXAPP_ORIGIN", "https://login.example.com")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.usefixtures("public_origin")
@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://rebound.example:3000", "rebound.example:3000"),  # DNS rebinding
        (None, "rebound.example"),
        (None, "login.example.com.rebound.example"),
        (None, ""),
        (None, "[::1"),
    ],
)
def test_with_a_public_origin_another_host_name_is_refused(origin: str | None, host: str) -> None:
    start, body = _request(origin, host)
    assert start["status"] == 403
    assert body["body"] == b"This site is not served at that address."
    assert dict(start["headers"])[b"x-frame-options"] == b"DENY"


@pytest.mark.usefixtures("public_origin")
@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("login.example.com", "/login"),
        ("LOGIN.example.com:443", "/profile"),  # a proxy may pass the port on
        ("10.0.0.5:8001", "/ping"),  # a load balancer's probe, by address
        ("10.0.0.5:8001", "/_health"),
    ],
)
def test_with_a_public_origin_its_host_and_the_probes_are_served(host: str, path: str) -> None:
    start, _ = _request(None, host, path)
    assert start["status"] == 200


def test_without_a_public_origin_any_host_name_is_served() -> None:
    start, _ = _request(None, "rebound.example")
    assert start["status"] == 200
