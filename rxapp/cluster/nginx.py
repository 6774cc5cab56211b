"""nginx's configuration for the cluster, rendered from templates/nginx.conf."""

from __future__ import annotations

import shutil
from pathlib import Path
from string import Template

from rxapp.cluster.config import ClusterConfig, ClusterError

TEMPLATE = Path(__file__).resolve().parent / "templates" / "nginx.conf"
NGINX_HELP = (
    "nginx is needed as the reverse proxy: install Debian's package with "
    "`apt-get install nginx-light` (as root), then run this again."
)
# Paths the backend answers; everything else is the built frontend.
BACKEND_PATHS = r"^/(_event|_upload|_health|_all_routes|ping|auth-codespace|api/)"
TEMP_FOLDERS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_executable() -> str:
    """The nginx binary, or a ClusterError saying how to install it."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        raise ClusterError(NGINX_HELP)
    return found


def _server(address: str, extra: str = "max_fails=1 fail_timeout=2s") -> str:
    return f"    server {address} {extra};"


def _routing(upstreams: list[str], debug_routing: bool) -> str:
    """Which upstream a request goes to: the pool, or with RXAPP_DEBUG_ROUTING=1 the
    instance a `rxapp_instance=N` cookie names (the others as backups)."""
    if not debug_routing:
        return "  map $host $rxapp_upstream {\n    default rxapp_pool;\n  }"
    blocks, choices = [], []
    for number, address in enumerate(upstreams, start=1):
        backups = [_server(o, "backup") for o in upstreams if o != address]
        lines = "\n".join([_server(address), *backups])
        blocks.append(f"  upstream rxapp_instance_{number} {{\n{lines}\n  }}")
        choices.append(f'    "{number}" rxapp_instance_{number};')
    cookie_map = "\n".join(
        ["  map $cookie_rxapp_instance $rxapp_upstream {", "    default rxapp_pool;", *choices]
    )
    return "\n".join([*blocks, cookie_map + "\n  }"])


def _recased_pages() -> str:
    """The map from a page's address in other letter case to its own (as
    `canonical_urls.recased_page` answers behind the instances)."""
    from rxapp.canonical_urls import PAGES

    names = "|".join(sorted(page.lstrip("/") for page in PAGES))
    lines = [
        "  map $uri $rxapp_recased_page {",
        '    default "";',
        f'    "~^/({names})/?$" "";',  # the page's own address: regex maps go in order
        *(f'    "~*^{page}/?$" {page};' for page in sorted(PAGES)),
        "  }",
    ]
    return "\n".join(lines)


def _security_headers(static_root: Path) -> str:
    """The app's security headers on what nginx serves itself (the instances send their own):
    the CSP allows the inline scripts of the built pages and the app's own."""
    from rxapp import http_security
    from rxapp.components.widgets import OPENER_TRACKER

    http_security.allow_inline_script(OPENER_TRACKER)
    lines = [
        f'      add_header {name} "{value}" always;'
        for name, value in http_security.static_site_headers(static_root)
    ]
    return "\n".join(lines)


def render(config: ClusterConfig, upstreams: list[str], static_root: Path) -> str:
    """The nginx.conf text for `upstreams` (host:port of each instance)."""
    if not upstreams:
        raise ClusterError("nginx needs at least one upstream instance")
    tls = ""
    if config.tls_cert:
        tls = (
            f"    ssl_certificate {config.tls_cert};\n"
            f"    ssl_certificate_key {config.tls_key};\n"
            "    ssl_protocols TLSv1.2 TLSv1.3;\n"
        )
    return Template(TEMPLATE.read_text()).substitute(
        security_headers=_security_headers(static_root),
        run_dir=config.run_dir,
        pool="\n".join(_server(u) for u in upstreams),
        routing=_routing(upstreams, config.debug_routing),
        listen=config.listen,
        ssl=" ssl" if config.tls_cert else "",
        tls=tls,
        static_root=static_root,
        backend_paths=BACKEND_PATHS,
        recased_pages=_recased_pages(),
    )


def write(config: ClusterConfig, upstreams: list[str], static_root: Path) -> Path:
    """Render nginx.conf into the run directory, with nginx's temp folders beside it."""
    (config.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    for name in TEMP_FOLDERS:
        (config.run_dir / "nginx" / name).mkdir(parents=True, exist_ok=True)
    path = config.run_dir / "nginx.conf"
    path.write_text(render(config, upstreams, static_root))
    return path
