"""Paint first, then load the scripts: a prerendered page is shown before React starts.

react-router's prerendered HTML preloads every module of the page in its head and starts
them from an `async` module script, so on a cold load the scripts' evaluation and React's
hydration run before the first paint and hold it back (the login form is in the HTML, yet
appears only after 400 ms of script work on this project's machine). `paint_first` rewrites
that start-up into a classic inline script that waits for the first frame to be painted,
then preloads and imports the same modules in the same order (the manifest, the route
modules, then the client entry). The page works meanwhile from its HTML: see
`components/early_submit.py` for the forms. A page of any other shape is left unchanged.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

_START = re.compile(rb'<script type="module" async="">(?P<body>[^<]*?)</script>')
_IMPORT = re.compile(r'^import (?:\* as (?P<name>\w+) from )?"(?P<url>/assets/[\w.\-\[\]]+\.js)";$')
_ROUTES = re.compile(r"^window\.__reactRouterRouteModules = (?P<map>\{[^;]*\});$")
_ENTRY = re.compile(r'^import\("(?P<url>/assets/[\w.\-]+\.js)"\);$')
_PRELOAD = re.compile(rb'<link rel="modulepreload" href="(?P<url>/assets/[\w.\-\[\]]+\.js)"/>')


def _start_up(body: str, preloads: list[str]) -> str | None:
    """The deferred start-up for react-router's module script `body`, or None."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    if len(lines) < 4:
        return None
    imports = [_IMPORT.match(line) for line in lines[:-2]]
    routes, entry = _ROUTES.match(lines[-2]), _ENTRY.match(lines[-1])
    if not all(imports) or routes is None or entry is None:
        return None
    first, *named = imports
    if first is None or first["name"] or not named or not all(m and m["name"] for m in named):
        return None
    names = ", ".join(m["name"] for m in named if m)
    modules = ", ".join(f"import({json.dumps(m['url'])})" for m in named if m)
    return (
        "requestAnimationFrame(() => setTimeout(() => { "
        f"for (const href of {json.dumps(preloads)}) {{ const link = "
        "document.createElement('link'); link.rel = 'modulepreload'; link.href = href; "
        "document.head.append(link); } "
        f"import({json.dumps(first['url'])})"
        f".then(() => Promise.all([{modules}]))"
        f".then(([{names}]) => {{ window.__reactRouterRouteModules = {routes['map']}; "
        f"return import({json.dumps(entry['url'])}); }}); }}, 0));"
    )


@lru_cache(maxsize=64)
def paint_first(html: bytes) -> bytes:
    """`html` with its scripts started after the first paint (unchanged if not recognised)."""
    starts = list(_START.finditer(html))
    if len(starts) != 1:
        return html
    preloads = [m["url"].decode() for m in _PRELOAD.finditer(html)]
    script = _start_up(starts[0]["body"].decode(), preloads)
    if script is None:
        return html
    page = _PRELOAD.sub(b"", html)
    return page.replace(starts[0].group(0), b"<script>" + script.encode() + b"</script>", 1)
