"""Security headers on every HTTP response, and same-origin only for HTTP and the websocket.

An ASGI middleware around the whole app (pages, assets, API, the event websocket):

- A request or websocket upgrade whose `Origin` is not the app's own is refused (403), so no
  other site can drive a visitor's browser against the app (no CORS echo, no socket).
  The app's own origin is the one the request was addressed to (its Host), plus any listed
  in RXAPP_ALLOWED_ORIGINS (e.g. the public address behind a TLS proxy).
- Every response gets a Content-Security-Policy as strict as Reflex's bundle allows: scripts
  only from the app itself plus the exact inline scripts of each page (by hash), styles
  inline (Radix and Emotion set style attributes), no framing (`frame-ancestors 'none'`).
  Reflex runs `rx.call_script` code through `eval`, so `'unsafe-eval'` stays.
- `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
  a `Permissions-Policy`, and `Cache-Control: no-store` on pages and API answers.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rxapp.paint_first import paint_first
from rxapp.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=(), "
    "publickey-credentials-get=(self), publickey-credentials-create=(self)"
)
STATIC_PREFIXES = ("/assets/", "/_next/", "/favicon")


_INVALID = "invalid"


def allowed_origins() -> frozenset[str]:
    """The origins listed in RXAPP_ALLOWED_ORIGINS (checked by the settings), normalised."""
    return _normalised_origins(get_settings().allowed_origins)


@lru_cache(maxsize=4)
def _normalised_origins(listed: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_origin(item) for item in listed) - {_INVALID}


def _origin(value: str) -> str:
    try:  # a malformed port or IPv6 address raises: no origin of the app's
        parts = urlsplit(value.strip().lower())
        port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    except ValueError:
        return _INVALID
    return f"{parts.scheme}://{parts.hostname}{port}" if parts.hostname else _INVALID


def _hostport(value: str) -> str:
    """`host:port` of a URL; "" when it has none or is malformed."""
    try:
        parts = urlsplit(value)
        if not parts.hostname:
            return ""
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        return ""
    return f"{parts.hostname}:{port}"


def origin_allowed(origin: str | None, host: str | None, scheme: str) -> bool:
    """Whether a request from `origin`, addressed to `host`, comes from the app itself."""
    if origin is None:
        return True  # not sent by a browser on another site's behalf
    normalised = _origin(origin)
    if normalised == _INVALID:
        return False  # "null" (a sandboxed frame, a file), or malformed
    if normalised in allowed_origins():
        return True
    if not host:
        return False
    addressed = _hostport(f"{'https' if scheme in ('https', 'wss') else 'http'}://{host}")
    return bool(addressed) and _hostport(origin) == addressed


# Reflex's liveness answers: load balancers and probes reach instances by address.
_ANY_HOST_PATHS = frozenset({"/ping", "/_health"})


def host_allowed(host: str | None, path: str) -> bool:
    """Whether a request addressed to `host` (its Host header) is for this app: with
    RXAPP_ORIGIN set, only its host name is (a page of a site whose name was made to point
    here, DNS rebinding, would otherwise drive the app from a visitor's browser and
    network); without it, any."""
    origin = get_settings().origin
    if origin is None or path in _ANY_HOST_PATHS:
        return True
    try:
        addressed = urlsplit(f"//{host or ''}").hostname
    except ValueError:
        return False
    return addressed is not None and addressed == _host_name(origin)


@lru_cache(maxsize=1)
def _host_name(origin: str) -> str | None:
    """The host name of RXAPP_ORIGIN (checked by the settings), parsed once."""
    return urlsplit(origin).hostname


_APP_SCRIPT_HASHES: list[str] = []


def _script_hash(code: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(code).digest()).decode()


def allow_inline_script(code: str) -> None:
    """Allow one inline script of the app's own (e.g. from `rx.script`), which React may
    insert after the page has loaded, on every page."""
    digest = _script_hash(code.encode())
    if digest not in _APP_SCRIPT_HASHES:
        _APP_SCRIPT_HASHES.append(digest)


def content_security_policy(script_hashes: tuple[str, ...] = ()) -> str:
    """The CSP of the app's responses; `script_hashes` allow a page's own inline scripts."""
    allowed = dict.fromkeys([*_APP_SCRIPT_HASHES, *script_hashes])
    scripts = " ".join(["'self'", "'unsafe-eval'", *(f"'{h}'" for h in allowed)])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


@lru_cache(maxsize=256)
def inline_script_hashes(html: bytes) -> tuple[str, ...]:
    """CSP hashes (sha256) of every inline <script> of a page."""
    return tuple(_script_hash(body) for body in _INLINE_SCRIPT.findall(html))


@lru_cache(maxsize=64)
def _gzipped(page: bytes) -> bytes:
    return gzip.compress(page, mtime=0)


def static_site_headers(root: Path) -> list[tuple[str, str]]:
    """The same headers for a built frontend served by another server (the cluster's
    nginx): one CSP allowing the inline scripts of every page under `root`."""
    hashes: list[str] = []
    for page in sorted(root.rglob("*.html")):
        hashes.extend(inline_script_hashes(page.read_bytes()))
    return [
        ("Content-Security-Policy", content_security_policy(tuple(dict.fromkeys(hashes)))),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
    ]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _behind_trusted_proxy() -> bool:
    return get_settings().trusted_proxy_hops > 0


class SecurityMiddleware:
    """Same-origin checks and security headers for an ASGI app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        scheme = scope.get("scheme", "http")
        if _behind_trusted_proxy() and (forwarded := _header(scope, b"x-forwarded-proto")):
            scheme = forwarded.split(",")[0].strip()  # TLS ends at the proxy
        host = _header(scope, b"host")
        if not origin_allowed(origin, host, scheme):
            await _refuse(scope, receive, send)
            return
        if not host_allowed(host, scope.get("path", "")):
            await _refuse(scope, receive, send, body=b"This site is not served at that address.")
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _Headers(scope, send))


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    body: bytes = b"Requests from other sites are not accepted.",
) -> None:
    if scope["type"] == "websocket":
        await receive()  # the websocket.connect message
        await send({"type": "websocket.close", "code": 1008})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *_fixed_headers(no_store=True),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _fixed_headers(*, no_store: bool, csp: str | None = None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", (csp or content_security_policy()).encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    ]
    if no_store:
        headers.append((b"cache-control", b"no-store"))
    return headers


_REPLACED = {
    b"content-security-policy",
    b"x-frame-options",
    b"x-content-type-options",
    b"referrer-policy",
    b"permissions-policy",
}


class _Headers:
    """Adds the headers to one response; buffers an HTML page to hash its inline scripts."""

    def __init__(self, scope: Scope, send: Send) -> None:
        self.path: str = scope.get("path", "")
        self.send = send
        self.start: Message | None = None
        self.body: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if content_type.startswith(b"text/html"):
                self.start = message  # finished once the whole page is here
                return
            await self.send(self._with_headers(message, headers, content_type))
            return
        if self.start is None:
            await self.send(message)
            return
        if message["type"] == "http.response.pathsend":  # a file the server sends itself
            await self._send_page(await asyncio.to_thread(Path(message["path"]).read_bytes))
            return
        self.body.append(message.get("body", b""))
        if message.get("more_body"):
            return
        await self._send_page(b"".join(self.body))

    async def _send_page(self, page: bytes) -> None:
        """The page, its scripts started after the first paint (`paint_first`), with a CSP
        that allows exactly its inline scripts."""
        assert self.start is not None
        headers = list(self.start.get("headers", []))
        gzipped = any(k.lower() == b"content-encoding" and v == b"gzip" for k, v in headers)
        html = gzip.decompress(page) if gzipped and page else page
        shown = paint_first(html)
        if shown is not html:
            page = _gzipped(shown) if gzipped else shown
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
        csp = content_security_policy(inline_script_hashes(shown))
        await self.send(self._with_headers(self.start, headers, b"text/html", csp=csp))
        await self.send({"type": "http.response.body", "body": page})

    def _with_headers(
        self, message: Message, headers: list[tuple[bytes, bytes]], content_type: bytes, **kw: Any
    ) -> Message:
        static = self.path.startswith(STATIC_PREFIXES) and not content_type.startswith(b"text/html")
        kept = [
            (k, v)
            for k, v in headers
            if k.lower() not in _REPLACED and (static or k.lower() != b"cache-control")
        ]
        return {**message, "headers": kept + _fixed_headers(no_store=not static, **kw)}


def secure(app: ASGIApp) -> ASGIApp:
    """`app` inside `SecurityMiddleware` (the whole app: see `rxapp.SecuredApp`)."""
    return SecurityMiddleware(app)
