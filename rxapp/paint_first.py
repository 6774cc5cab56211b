"""Paint first, then load the scripts: a prerendered page is shown before React starts.

react-router's prerendered HTML preloads every module of the page in its head and starts
them from an `async` module script, so on a cold load the scripts' evaluation and React's
hydration run before the first paint and hold it back (the login form is in the HTML, yet
appears only after 400 ms of script work on this project's machine). `paint_first` rewrites
that start-up into a classic inline script that waits for the first frame to be painted,
then preloads and imports the same modules in the same order (the manifest, the route
modules, then the client entry). The page works meanwhile from its HTML: see
`components/early_submit.py` for the forms. A page of any other shape is left unchanged.

A page that carries `FIRST_PAINT_MARK` (the login page) is also painted without the app's
render-blocking stylesheet, all of Radix Themes (700 KB), whose rules and tokens hold the
first paint back (bench/README.md has the figures). Its first paint uses `first_paint.css`
instead: a few rules with the same computed values for the elements of that page's HTML
(`tests/e2e/test_first_paint_styles.py` compares them and the pixels, light and dark, wide
and narrow). The start-up then puts the full stylesheet back where it was (it was preloaded
meanwhile) and drops the small one once the full one has loaded; the page looks the same
throughout. Should the full one never load, the login form stays styled, but what the
page's HTML did not have (an error, the next pages) is not.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

_START = re.compile(rb'<script type="module" async="">(?P<body>[^<]*?)</script>')
_IMPORT = re.compile(r'^import (?:\* as (?P<name>\w+) from )?"(?P<url>/assets/[\w.\-\[\]]+\.js)";$')
_ROUTES = re.compile(r"^window\.__reactRouterRouteModules = (?P<map>\{[^;]*\});$")
_ENTRY = re.compile(r'^import\("(?P<url>/assets/[\w.\-]+\.js)"\);$')
_PRELOAD = re.compile(rb'<link rel="modulepreload" href="(?P<url>/assets/[\w.\-\[\]]+\.js)"/>')
_SHEET = re.compile(
    rb'<link href="(?P<url>/assets/[\w.\-]+\.css)" rel="stylesheet" type="text/css"/>'
)
# On a page whose first paint `first_paint.css` styles (put there by the page itself).
FIRST_PAINT_MARK = "data-first-paint-styles"
_EARLY_STYLES_ID = "first-paint-styles"
_FIRST_PAINT_CSS = Path(__file__).with_name("first_paint.css")


@lru_cache(maxsize=1)
def first_paint_css() -> bytes:
    """The stylesheet of a marked page's first paint, comments and indentation removed."""
    css = _FIRST_PAINT_CSS.read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return " ".join(line.strip() for line in css.splitlines() if line.strip()).encode()


def _put_back(sheet_url: str) -> str:
    """Script: the full stylesheet back in place of the first paint's, which goes once the
    full one has loaded (and stays if it never does)."""
    return (
        f"{{ const early = document.getElementById('{_EARLY_STYLES_ID}'); if (early) {{"
        " const sheet = document.createElement('link'); sheet.rel = 'stylesheet';"
        f" sheet.href = {json.dumps(sheet_url)}; sheet.onload = () => early.remove();"
        " early.before(sheet); } } "
    )


def _start_up(body: str, preloads: list[str], before: str = "") -> str | None:
    """The deferred start-up for react-router's module script `body` (after the script
    `before`), or None."""
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
        f"requestAnimationFrame(() => setTimeout(() => {{ {before}"
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
    sheets = list(_SHEET.finditer(html)) if FIRST_PAINT_MARK.encode() in html else []
    put_back = _put_back(sheets[0]["url"].decode()) if len(sheets) == 1 else ""
    script = _start_up(starts[0]["body"].decode(), preloads, put_back)
    if script is None:
        return html
    page = _PRELOAD.sub(b"", html)
    if put_back:
        early = f'<style id="{_EARLY_STYLES_ID}">'.encode() + first_paint_css() + b"</style>"
        page = page.replace(sheets[0].group(0), early, 1)
    return page.replace(starts[0].group(0), b"<script>" + script.encode() + b"</script>", 1)
