"""What a tab gets when one of its events fails on the server."""

from __future__ import annotations

import logging

from reflex.app import default_backend_exception_handler
from reflex.event import EventSpec
from reflex.utils.exceptions import LockExpiredError

from rxapp.components.early_submit import release_busy_buttons
from rxapp.state import browser_tokens

logger = logging.getLogger(__name__)


def on_backend_exception(exception: Exception) -> list[EventSpec]:
    """Recover a tab whose state the store lost; anything else is a bug, logged in full,
    and the form that sent it may be sent again (its answer will not come).

    Reflex's Redis state manager raises LockExpiredError when it may not save an event's
    changes: the store lost the tab's state (Redis restarted or was flushed) or the event
    held the lock past `lock_expiration`. What the event did in the database stands and its
    updates reached the browser; only the tab's server-side copy is stale or gone. The
    browser reloads, presents its tokens again and is shown the truth. The message of the
    error names the tab's client token, so it is not logged.
    """
    if isinstance(exception, LockExpiredError):
        logger.warning("a tab's state was lost from the state store; the tab reloads")
        return [browser_tokens.present_again()]
    return [default_backend_exception_handler(exception), release_busy_buttons()]
