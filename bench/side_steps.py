"""The steps a person waits for, timed in Chromium for rxapp and the allauth peer alike.

Each timed run is one fresh user in a fresh browser context (a cold HTTP cache):
- first load: from the navigation's start to the login form's email field shown (in the
  DOM, visible, and the page painted) and enabled (and typing into it works: checked, not
  timed);
- password step: from the click on submit to the code field shown and enabled;
- second factor: from the click on submit to rxapp's profile showing the account's email /
  the peer's `/accounts/2fa/` loaded.

The times are taken inside the page (`performance.timeOrigin + performance.now()`): a script
added to every document notes the click (kept in sessionStorage across a page load) and the
first moment each watched element is ready (on every DOM change and every frame).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from playwright.sync_api import Page

# Added to every document before its own scripts. WATCH: [key, selector, text or null].
_RECORDER = """
(watch) => {
  const now = () => performance.timeOrigin + performance.now();
  const seen = (window.__benchSeen = {});
  addEventListener('click', () => sessionStorage.setItem('benchClick', String(now())), true);
  addEventListener('load', () => { seen.load = now(); });
  const check = () => {
    for (const [key, selector, text] of watch) {
      if (key in seen) continue;
      const el = document.querySelector(selector);
      if (el && el.checkVisibility() && !el.disabled && (text === null || el.textContent === text))
        seen[key] = now();
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true,
    attributes: true, characterData: true});
  const frame = () => { check(); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
}
"""
# [navigation start, first contentful paint] once painted: shown means painted, too.
_PAINTED = """() => {
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return paint && [performance.timeOrigin, performance.timeOrigin + paint.startTime];
}"""
_JS_KB = """() => performance.getEntriesByType('resource')
  .filter((r) => new URL(r.name).pathname.endsWith('.js'))
  .reduce((sum, r) => sum + r.transferSize, 0) / 1024"""
# A person takes at least this long to type an email and password, or a code.
TYPING_SECONDS = 2.0
CODE_SECONDS = 1.0


@dataclass(frozen=True)
class Side:
    """How one app's pages look to the browser."""

    name: str
    base_url: str
    login_path: str
    email: str
    password: str
    submit: str
    code: str
    code_submit: str
    code_for: Callable[[dict[str, str]], str]
    # The key of `_RECORDER`'s record that ends the second factor ("load" for a page load).
    landed: str
    landing_url: str
    # The element that shows the account's email on the landing page ("" for none).
    email_shown: str = ""


@dataclass(frozen=True)
class StepTimes:
    """Milliseconds of one user's three steps."""

    first_load: float
    password: float
    second_factor: float
    # KB of JavaScript the login page transferred by the time the person submits.
    login_js_kb: float = 0.0


def _watch(side: Side, email: str) -> list[list[str | None]]:
    watched: list[list[str | None]] = [["form", side.email, None], ["code", side.code, None]]
    if side.email_shown:
        watched.append(["landed", side.email_shown, email])
    return watched


def _seen(page: Page, key: str, timeout: float = 30) -> float:
    """The in-page time at which `key` was first ready (waits for it)."""
    handle = page.wait_for_function(
        "k => window.__benchSeen && window.__benchSeen[k]", arg=key, timeout=timeout * 1000
    )
    return float(handle.json_value())


def _clicked_at(page: Page) -> float:
    return float(page.evaluate("() => Number(sessionStorage.getItem('benchClick'))"))


def time_one_user(page: Page, side: Side, user: dict[str, str]) -> StepTimes:
    """Sign `user` in on `side` in `page` (a fresh context's page); time the three steps."""
    page.add_init_script(script=f"({_RECORDER})({json.dumps(_watch(side, user['email']))})")
    page.goto(side.base_url + side.login_path, wait_until="commit")
    ready = _seen(page, "form")
    started, painted = page.wait_for_function(_PAINTED).json_value()
    first_load = max(ready, painted) - started
    email = page.locator(side.email)
    email.type("a")  # typing works the moment it is shown
    time.sleep(max(0.0, TYPING_SECONDS - (time.time() * 1000 - started) / 1000))
    if email.input_value() != "a":
        raise RuntimeError(f"{side.name}: what was typed before the page settled was lost")
    login_js_kb = float(page.evaluate(_JS_KB))
    email.fill(user["email"])
    page.locator(side.password).fill(user["password"])
    page.locator(side.submit).click()
    code_ready = _seen(page, "code")
    password_step = code_ready - _clicked_at(page)
    code = side.code_for(user)
    time.sleep(CODE_SECONDS)
    page.locator(side.code).fill(code)
    page.locator(side.code_submit).click()
    page.wait_for_url(side.base_url + side.landing_url, wait_until="load")
    landed = _seen(page, side.landed)
    return StepTimes(first_load, password_step, landed - _clicked_at(page), login_js_kb)
