"""Errors browsers report (Reflex's frontend exception handler).

Any connection, signed in or not, can send such a report with any text in it, and Reflex's
default handler logs that text whole: lines that look like the app's own, megabytes at a
time. Here a report is one line of printable characters, cut short, and the process logs a
few a minute at most.
"""

from __future__ import annotations

import logging

from reflex_base.constants.route import RouteVar
from reflex_base.event.context import EventContext
from reflex_base.utils.format import sanitize_client_log_value

from rxapp.log_budget import LogBudget, source_of

logger = logging.getLogger("rxapp.browser")

MAX_REPORT_CHARS = 500
MAX_REPORTS_PER_MINUTE = 30
MAX_REPORTS_PER_SOURCE = 10  # one client address's share of a minute's lines
_budget = LogBudget(
    logger, MAX_REPORTS_PER_MINUTE, "browser error reports", per_source=MAX_REPORTS_PER_SOURCE
)


def on_frontend_exception(exception: Exception) -> None:
    """Log what a browser reported, bounded (see the module's docstring)."""
    report = sanitize_client_log_value(str(exception), MAX_REPORT_CHARS)
    _budget.warn("rxapp: a browser reported an error: %s", report, source=_reporter())


def _reporter() -> str:
    """The client address of the connection whose event is being handled ("" outside one)."""
    try:
        router_data = EventContext.get().router_data
    except LookupError:
        return ""
    return source_of(str(router_data.get(RouteVar.CLIENT_IP, "")))
