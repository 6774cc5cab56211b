"""paint_first: react-router's start-up script deferred until after the first paint."""

from __future__ import annotations

from rxapp.http_security import inline_script_hashes
from rxapp.paint_first import FIRST_PAINT_MARK, first_paint_css, paint_first

PAGE = b"""<!DOCTYPE html><html><head><link rel="modulepreload" href="/assets/manifest-1.js"/>\
<link rel="modulepreload" href="/assets/entry.client-2.js"/>\
<link rel="modulepreload" href="/assets/root-3.js"/>\
<link rel="modulepreload" href="/assets/_login_._index-4.js"/>\
</head><body><form><input name="email"/></form>\
<script type="module" async="">import "/assets/manifest-1.js";
import * as route0 from "/assets/root-3.js";
import * as route1 from "/assets/_login_._index-4.js";

  window.__reactRouterRouteModules = {"root":route0,"routes/[login]._index":route1};

import("/assets/entry.client-2.js");</script><script>other()</script></body></html>"""


def test_the_start_up_waits_for_a_painted_frame_and_keeps_the_order() -> None:
    page = paint_first(PAGE).decode()
    assert '<script type="module"' not in page
    assert '<link rel="modulepreload"' not in page  # added by the script, after the paint
    start = page.index("requestAnimationFrame(() => setTimeout(")
    manifest = page.index('import("/assets/manifest-1.js")', start)
    routes = page.index('Promise.all([import("/assets/root-3.js"), import("/assets/_login_.')
    modules = page.index('window.__reactRouterRouteModules = {"root":route0,"routes/[login]')
    entry = page.index('return import("/assets/entry.client-2.js")')
    assert start < manifest < routes < modules < entry
    assert '"/assets/entry.client-2.js", "/assets/root-3.js"' in page  # preloads kept, later
    assert "<form><input" in page and "<script>other()</script>" in page


def test_its_inline_script_is_hashed_for_the_csp() -> None:
    assert len(inline_script_hashes(paint_first(PAGE))) == 2
    assert inline_script_hashes(paint_first(PAGE)) != inline_script_hashes(PAGE)


def test_a_page_of_another_shape_is_left_as_it_is() -> None:
    odd = PAGE.replace(b'import("/assets/entry.client-2.js");', b"start();")
    assert paint_first(odd) == odd
    plain = b"<html><body><p>Not found</p></body></html>"
    assert paint_first(plain) == plain
    two = PAGE.replace(b"<script>other()</script>", b'<script type="module" async="">x</script>')
    assert paint_first(two) == two


SHEET = b'<link href="/assets/__reflex_global_styles-Ab1.css" rel="stylesheet" type="text/css"/>'
LOGIN = PAGE.replace(b"</head>", SHEET + b"</head>").replace(
    b"<form>", f'<form {FIRST_PAINT_MARK}="login">'.encode()
)


def test_the_marked_page_paints_from_its_own_small_stylesheet() -> None:
    page = paint_first(LOGIN).decode()
    assert SHEET.decode() not in page  # the full stylesheet no longer blocks the first paint
    early = f'<style id="first-paint-styles">{first_paint_css().decode()}</style>'
    assert early in page and page.index(early) < page.index("</head>")
    assert "/*" not in first_paint_css().decode() and ".rt-TextFieldRoot" in page


def test_its_start_up_puts_the_full_stylesheet_back_first() -> None:
    page = paint_first(LOGIN).decode()
    start = page.index("requestAnimationFrame(() => setTimeout(")
    put_back = page.index('sheet.href = "/assets/__reflex_global_styles-Ab1.css"', start)
    assert put_back < page.index('import("/assets/manifest-1.js")', start)
    assert "early.before(sheet)" in page and "sheet.onload = () => early.remove()" in page


def test_an_unmarked_page_keeps_its_render_blocking_stylesheet() -> None:
    page = paint_first(PAGE.replace(b"</head>", SHEET + b"</head>"))
    assert SHEET in page and b"first-paint-styles" not in page
