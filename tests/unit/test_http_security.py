"""The same-origin check of every request and websocket upgrade (rxapp.http_security)."""

from __future__ import annotations

import asyncio

import pytest

from rxapp.http_security import SecurityMiddleware, origin_allowed

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


def _request(origin: str, host: str) -> list[dict]:
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
        "path": "/login",
        "scheme": "http",
        "headers": [(b"origin", origin.encode()), (b"host", host.encode())],
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


@pytest.mark.parametrize("listed", ["rx.example", "https://rx.example:44x3"])
@pytest.mark.parametrize("origin", ["null", "http://[::1", "https://evil.example:99999"])
def test_a_malformed_allowed_origin_allows_no_malformed_origin(
    monkeypatch: pytest.MonkeyPatch, listed: str, origin: str
) -> None:
    monkeypatch.setenv("RXAPP_ALLOWED_ORIGINS", f"{listed},https://app.example")
    assert not origin_allowed(origin, "localhost:3300", "http")
    assert origin_allowed("https://app.example", "localhost:3300", "http")
