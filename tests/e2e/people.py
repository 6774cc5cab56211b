"""Helpers for the tests of what a person sees: first-paint sampling, axe-core, viewports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from rxapp.testing import Account, RxappServer
from tests.e2e.conftest import (
    PASSCODE_URL,
    PROFILE_URL,
    TwoFactor,
    enable_2fa,
    sign_in,
    sign_in_to_profile,
)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
AXE_JS = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# A dialog announced without its name: axe files it under best practices, not WCAG.
BEST_PRACTICES = ["aria-dialog-name"]

# Runs in every document of the page before the app's own scripts: every 20 ms it notes
# what a person could see of the testids that carry account data.
_SAMPLER = """
window.__samples = [];
const __watched = %s;
setInterval(() => {
  const seen = {};
  for (const id of __watched) {
    seen[id] = Array.from(document.querySelectorAll(`[data-testid="${id}"]`))
      .filter((e) => e.offsetParent !== null).map((e) => e.textContent);
  }
  seen.path = location.pathname;
  seen.text = document.body ? document.body.innerText : "";
  window.__samples.push(seen);
}, 20);
"""


def sample_every_20ms(page: Page, *testids: str) -> None:
    """From the next navigation on, sample the visible text of `testids` every 20 ms."""
    page.add_init_script(_SAMPLER % json.dumps(list(testids)))


def samples(page: Page) -> list[dict[str, Any]]:
    """What the sampler saw since the current document loaded."""
    return page.evaluate("window.__samples")


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.2 AA violations on the page once its animations have ended (a
    dialog fading in has blended colours), one line each."""
    _settled(page)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text())
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, "
        "resultTypes: ['violations']})",
        WCAG_22_AA,
    )
    # Best practices beyond WCAG's own criteria that a screen-reader user notices at once.
    extra = page.evaluate(
        "(rules) => axe.run(document, {runOnly: {type: 'rule', values: rules}, "
        "resultTypes: ['violations']})",
        BEST_PRACTICES,
    )
    return [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:3]} "
        f"({v['nodes'][0].get('failureSummary', '')[:200]})"
        for v in result["violations"] + extra["violations"]
    ]


def _settled(page: Page) -> None:
    """Wait until the page has painted twice and no finite animation or transition runs (a
    dialog fading in has blended colours; its animation may start a frame after it opens)."""
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    page.wait_for_function(
        "document.getAnimations().every((a) => a.playState !== 'running' "
        "|| a.effect?.getTiming().iterations === Infinity)"  # a spinner never ends
    )


def assert_accessible(page: Page, where: str) -> None:
    """Zero axe-core violations (WCAG 2.2 AA) on the page as it is now."""
    found = axe_violations(page)
    if found:  # a violation that outlives one more settled paint is a real one
        found = axe_violations(page)
    assert not found, f"axe-core violations on {where}:\n" + "\n".join(found)


def with_2fa_at_passcode(page: Page, account: Account) -> TwoFactor:
    """Enable 2FA for `account`, sign out, and sign in again up to the passcode page."""
    sign_in_to_profile(page, account)
    twofa = enable_2fa(page)
    page.get_by_test_id("logout").click()
    sign_in(page, account)
    expect(page).to_have_url(PASSCODE_URL)
    return twofa


def signed_in_with_a_backup_code(page: Page, account: Account) -> TwoFactor:
    """Enable 2FA for `account`, sign out, and sign in again with its first backup code."""
    twofa = with_2fa_at_passcode(page, account)
    page.get_by_test_id("passcode-input").fill(twofa.backup_codes[0])
    page.get_by_test_id("passcode-submit").click()
    expect(page).to_have_url(PROFILE_URL)
    return twofa


def wrong_code(twofa: TwoFactor, *, avoid_steps: range = range(-20, 21)) -> str:
    """A six-digit code valid for no step near now."""
    near = {twofa.code(steps_ahead=s) for s in avoid_steps}
    return next(c for c in (f"{n:06d}" for n in range(123456, 999999, 111111)) if c not in near)


def user_id(server: RxappServer, email: str) -> int:
    """The database id of the account with `email`."""
    from sqlmodel import select

    from rxapp.models import User

    with server.db() as db:
        return db.exec(select(User.id).where(User.email == email)).one()


def expire_the_sign_in(server: RxappServer, account: Account) -> None:
    """End the account's pending sign-ins' five minutes now, as if they had run out."""
    from datetime import timedelta

    from sqlalchemy import update

    from rxapp.models import PendingLogin
    from rxapp.services.clock import utcnow

    with server.db() as db:
        db.exec(
            update(PendingLogin)
            .where(PendingLogin.user_id == user_id(server, account.email))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.commit()
