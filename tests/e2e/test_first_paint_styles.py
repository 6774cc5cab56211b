"""The login page paints from its own small stylesheet (rxapp/first_paint.css), then the app's
full stylesheet replaces it: a person sees the page sooner, and sees nothing change.

Compared: the page at rest, as first painted (the email field focused). Not compared: hover,
keyboard focus elsewhere, a busy button's spinner, which the full sheet draws from its arrival
(a few tens of ms after the first paint, before a person could use them)."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from rxapp.testing import Account
from tests.e2e.conftest import PROFILE_URL, sign_in_to_profile

pytestmark = pytest.mark.e2e

FULL_SHEET = re.compile(r"/assets/__reflex_global_styles[\w.\-]*\.css$")
FIRST_PAINT = "#first-paint-styles"

# What a person sees of each element of the page: the computed values that draw it, its
# box, and its ::before/::after (not the card's backdrop blur, which first_paint.css leaves
# out: the screenshots show it changes nothing here).
_SNAPSHOT = """() => {
  const PROPS = ['display', 'position', 'box-sizing', 'z-index', 'flex-direction', 'align-items',
    'justify-content', 'flex-wrap', 'row-gap', 'column-gap', 'flex-grow', 'flex-shrink',
    'margin-top', 'margin-right', 'margin-bottom', 'margin-left', 'padding-top', 'padding-right',
    'padding-bottom', 'padding-left', 'border-top-left-radius', 'border-top-right-radius',
    'border-bottom-left-radius', 'border-bottom-right-radius', 'background-color',
    'background-image', 'background-clip', 'color', 'font-family', 'font-size', 'font-weight',
    'font-style', 'line-height', 'letter-spacing', 'text-align', 'text-decoration-line',
    'text-indent', 'white-space', 'box-shadow', 'opacity', 'visibility', 'overflow-x',
    'overflow-y', 'vertical-align', 'cursor', '-webkit-font-smoothing', 'user-select',
    'contain', 'isolation', 'transform', 'filter', 'mix-blend-mode'];
  const PSEUDO = ['content', 'position', 'top', 'right', 'bottom', 'left', 'z-index',
    'border-top-left-radius', 'background-color', 'box-shadow'];
  const out = {};
  const all = [document.documentElement, document.body, ...document.body.querySelectorAll('*')];
  all.forEach((el, i) => {
    if (el.closest('[hidden], script, style, template, svg *')) return;
    const cs = getComputedStyle(el);
    const s = {};
    for (const p of PROPS) s[p] = cs.getPropertyValue(p);
    for (const side of ['top', 'right', 'bottom', 'left']) {
      const [w, style, color] = ['width', 'style', 'color'].map(
        (part) => cs.getPropertyValue(`border-${side}-${part}`));
      s[`border-${side}`] = w === '0px' ? 'none' : `${w} ${style} ${color}`;
    }
    s.outline = cs.outlineStyle === 'none' ? 'none' :
      `${cs.outlineWidth} ${cs.outlineStyle} ${cs.outlineColor} ${cs.outlineOffset}`;
    for (const pseudo of ['::before', '::after']) {
      const ps = getComputedStyle(el, pseudo);
      if (ps.content === 'none' || ps.content === 'normal') continue;
      for (const p of PSEUDO) s[pseudo + p] = ps.getPropertyValue(p);
    }
    const r = el.getBoundingClientRect();
    s.box = [r.x, r.y, r.width, r.height].map((v) => Math.round(v * 10) / 10).join(' ');
    const classes = typeof el.className === 'string' ? el.className.split(' ') : [];
    const name = el.tagName.toLowerCase() + (el.dataset.testid ? `[${el.dataset.testid}]` : '') +
      classes.filter((c) => c && !c.startsWith('css-')).map((c) => '.' + c).join('');
    out[`${i} ${name}`] = s;
  });
  return out;
}"""


# The largest difference of one colour channel (0-255) between two same-sized screenshots.
_PIXEL_DIFFERENCE = """async ([a, b]) => {
  const load = (png) => new Promise((done) => {
    const image = new Image(); image.onload = () => done(image);
    image.src = 'data:image/png;base64,' + png;
  });
  const pixels = (image) => {
    const canvas = document.createElement('canvas');
    canvas.width = image.width; canvas.height = image.height;
    const context = canvas.getContext('2d'); context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, image.width, image.height).data;
  };
  const [first, second] = (await Promise.all([load(a), load(b)])).map(pixels);
  if (first.length !== second.length) return 255;
  let most = 0;
  for (let i = 0; i < first.length; i++) most = Math.max(most, Math.abs(first[i] - second[i]));
  return most;
}"""


def _pixel_difference(context: BrowserContext, first: bytes, second: bytes) -> int:
    blank = context.new_page()
    try:
        pngs = [base64.b64encode(shot).decode() for shot in (first, second)]
        return int(blank.evaluate(_PIXEL_DIFFERENCE, pngs))
    finally:
        blank.close()


def _hold_full_sheet(page: Page) -> list[Route]:
    """Keep the full stylesheet's response back until the routes returned are continued."""
    held: list[Route] = []
    page.route(FULL_SHEET, lambda route: held.append(route))
    return held


def _differences(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[str]:
    assert before.keys() == after.keys()
    return [
        f"{element}: {prop} {styles[prop]!r} -> {after[element].get(prop)!r}"
        for element, styles in before.items()
        for prop in styles.keys() | after[element].keys()
        if styles.get(prop) != after[element].get(prop)
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_looks_the_same_before_and_after_the_full_stylesheet(
    page: Page, scheme: str, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.emulate_media(color_scheme=scheme)
    page.route(re.compile(r"/assets/.*\.js$"), lambda route: route.abort())  # the HTML alone
    held = _hold_full_sheet(page)
    page.goto("/login", wait_until="domcontentloaded")
    expect(page.locator(FIRST_PAINT)).to_have_count(1)
    page.wait_for_function("() => performance.getEntriesByName('first-contentful-paint').length")
    first_paint, first_look = page.evaluate(_SNAPSHOT), page.screenshot()

    for route in held:
        route.continue_()
    expect(page.locator(FIRST_PAINT)).to_have_count(0)
    assert page.locator("link[rel=stylesheet]").count() == 1
    full = page.evaluate(_SNAPSHOT)
    assert _differences(first_paint, full) == []
    # The card's backdrop blur, left out, changes a few pixels by 1 in 255: not to the eye.
    assert _pixel_difference(page.context, first_look, page.screenshot()) <= 1


def test_the_login_page_paints_and_takes_input_without_the_full_stylesheet(page: Page) -> None:
    """The 700 KB stylesheet no longer holds back the first paint, nor typing."""
    _hold_full_sheet(page)
    page.goto("/login", wait_until="domcontentloaded")
    page.wait_for_function("() => performance.getEntriesByName('first-contentful-paint').length")
    email = page.get_by_test_id("login-email")
    expect(email).to_be_visible()
    email.fill("someone@example.com")
    expect(email).to_have_value("someone@example.com")
    assert page.evaluate("() => [...document.styleSheets].every((s) => !s.href)")


def test_after_the_first_paint_the_app_is_styled_by_its_full_stylesheet(
    page: Page, rxapp_user: Account
) -> None:
    """What the login page's HTML did not show (an error, the next pages) is styled too."""
    page.goto("/login")
    page.wait_for_function("() => window.__rxLive === true")
    expect(page.locator(FIRST_PAINT)).to_have_count(0)
    page.get_by_test_id("login-email").fill(rxapp_user.email)
    page.get_by_test_id("login-password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    callout = "(el) => getComputedStyle(el.closest('.rt-CalloutRoot')).display"
    assert error.evaluate(callout) == "grid"  # Radix's callout, not in the login page's HTML

    sign_in_to_profile(page, rxapp_user)
    expect(page).to_have_url(PROFILE_URL)
    card = page.locator(".rt-Card").first
    assert card.evaluate("(el) => getComputedStyle(el).contain") == "paint"
