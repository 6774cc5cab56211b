"""Whether a tab still has its websocket open to this process.

A tab's background tasks ask this each round and stop once the tab has gone, rather than
running on (and writing its state, and logging its id with every update Reflex cannot
deliver) until their own end. A tab that reconnects runs its page's on_load again, which
starts them anew.
"""

from __future__ import annotations

import reflex as rx
from reflex.utils.token_manager import TokenManager

_connections: TokenManager | None = None


def install(app: rx.App) -> None:
    """Follow `app`'s connections (once, where the app is made)."""
    global _connections
    if app.event_namespace is not None:
        # Reflex's own record of which tab is connected where (its public `token_to_sid`
        # copies the whole mapping on every call).
        _connections = app.event_namespace._token_manager


def open_here(client_token: str) -> bool:
    """Whether the tab `client_token` has its websocket open to this process (True when
    no app was installed: nothing is known, so nothing is stopped)."""
    if _connections is None:
        return True
    record = _connections.token_to_socket.get(client_token)
    return record is not None and record.instance_id == _connections.instance_id
