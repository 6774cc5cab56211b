"""Client tokens out of Reflex's own log lines.

A tab's client token is the key to its server-side state. Reflex writes it into two warnings:
an update for a tab that closed while its event was still being handled ("Attempting to send
delta to disconnected client '…'") and, with Redis, a state lock held too long. Every
connection proves its session itself, so a token alone opens nothing, but logs are read by
more people than the app's users and kept longer: the token is replaced before the line is
written.
"""

from __future__ import annotations

import logging
import re

CLIENT_TOKEN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
WITHHELD = "<client token>"
# The Reflex loggers whose lines name a client token.
LOGGERS = ("reflex.app", "reflex.istate.manager.redis")


class RedactClientTokens(logging.Filter):
    """Replace every client token in a record's message (the record is always kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it as it would have
            return True
        redacted, found = CLIENT_TOKEN.subn(WITHHELD, message)
        if found:
            record.msg, record.args = redacted, ()
        return True


def install() -> None:
    """Add the filter to Reflex's loggers (once)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactClientTokens) for f in logger.filters):
            logger.addFilter(RedactClientTokens())
