"""Fixtures of rxapp's pytest plugin that replace pytest-playwright defaults of the same name.

`rxapp.testing` registers this module at configure time, after every other plugin, so these
definitions win: the browser found on this machine, and `base_url` at the rxapp server.
"""

from __future__ import annotations

from typing import Any

import pytest

from rxapp.testing import browser_launch_args, find_browser


@pytest.fixture(scope="session")
def browser_type_launch_args(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Launch options: a Chromium found here, headless unless --headed, the quiet flags."""
    options = browser_launch_args(
        find_browser(), headless=not pytestconfig.getoption("--headed", default=False)
    )
    if slowmo := pytestconfig.getoption("--slowmo", default=0):
        options["slow_mo"] = slowmo
    return options


@pytest.fixture(scope="session")
def base_url(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> str:
    """`--base-url` when given (an existing deployment), else the rxapp test server."""
    if given := pytestconfig.getoption("--base-url", default=None):
        return given
    return request.getfixturevalue("rxapp_server").url
