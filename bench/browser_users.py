"""Browser time from a change of the 2FA filter to the updated table, at 10k-1M users.

The production build runs on a seeded SQLite database; Chromium (through Playwright) changes
the filter and the page itself measures, from the `change` event to the moment the count of
matching users shows the new, expected value.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import pyotp
from playwright.sync_api import sync_playwright

from bench.common import admin_with_2fa, migrated_sqlite, summary, use_throwaway_key
from bench.users_query import seeded
from rxapp.services import users_query
from rxapp.services.database import session_for
from rxapp.testing import RxappServer, browser_launch_args, find_browser

CYCLE = ("activated", "not_activated", "all")
_WATCH = """
([value, expected]) => { window.__rxappDone = new Promise((resolve) => {
  const select = document.querySelector('[data-testid="users-filter"]');
  const count = document.querySelector('[data-testid="users-count"]');
  let start = null;
  const begin = () => { start = performance.now(); };
  select.addEventListener('change', begin, {once: true, capture: true});
  const observer = new MutationObserver(() => {
    if (start !== null && count.textContent === expected) {
      observer.disconnect();
      resolve(performance.now() - start);
    }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}); }
"""


def run(sizes: tuple[int, ...], changes: int = 30) -> list[str]:
    """Median milliseconds per filter change for each database size."""
    use_throwaway_key()
    folder = Path(tempfile.mkdtemp(prefix="rxapp-bench-"))
    lines = []
    for size in sizes:
        url = seeded(migrated_sqlite(folder / f"users-{size}.db"), size)
        password = "bench-admin-password"
        secret = admin_with_2fa(url, "bench-admin@example.com", password)
        with session_for(url) as db:
            expected = {
                name: f"{users_query.fetch_page(db, status=users_query.parse_filter(name)).total:,}"
                for name in CYCLE
            }
        workdir = folder / f"server-{size}"
        workdir.mkdir()
        server = RxappServer(workdir, db_url=url)
        server.start()
        try:
            samples = _drive(server.url, password, secret, expected, changes)
        finally:
            server.stop()
        lines.append(f"{size:>9,} users  filter change -> table updated  {summary(samples)}")
        lines.append(f"{'':>9}        (mean {statistics.fmean(samples):.1f} ms)")
    return lines


def _drive(
    base: str, password: str, secret: str, expected: dict[str, str], changes: int
) -> list[float]:
    samples = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**browser_launch_args(find_browser()))
        page = browser.new_page(base_url=base)
        page.goto("/login")
        page.get_by_test_id("login-email").fill("bench-admin@example.com")
        page.get_by_test_id("login-password").fill(password)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url("**/passcode")
        page.get_by_test_id("passcode-input").fill(pyotp.TOTP(secret).now())
        page.get_by_test_id("passcode-submit").click()
        page.wait_for_url("**/profile")
        page.goto("/users")
        page.get_by_test_id("users-count").wait_for()
        page.wait_for_function(
            "t => document.querySelector('[data-testid=\"users-count\"]').textContent === t",
            arg=expected["all"],
        )
        for i in range(changes + 3):
            value = CYCLE[i % len(CYCLE)]
            page.evaluate(_WATCH, [value, expected[value]])
            page.get_by_test_id("users-filter").select_option(value)
            elapsed = page.evaluate("() => window.__rxappDone")
            if i >= 3:  # the first changes warm caches on both sides
                samples.append(elapsed)
        browser.close()
    return samples
