"""Errors browsers report (Reflex's frontend exception handler).

Any connection, signed in or not, can send such a report with any text in it, and Reflex's
default handler logs that text whole: lines that look like the app's own, megabytes at a
time. Here a report is one line of printable characters, cut short, and the process logs a
few a minute at most.
"""

from __future__ import annotations

import logging

from reflex_base.utils.format import sanitize_client_log_value

from rxapp.log_budget import LogBudget

logger = logging.getLogger("rxapp.browser")

MAX_REPORT_CHARS = 500
MAX_REPORTS_PER_MINUTE = 30
_budget = LogBudget(logger, MAX_REPORTS_PER_MINUTE, "browser error reports")


def on_frontend_exception(exception: Exception) -> None:
    """Log what a browser reported, bounded (see the module's docstring)."""
    report = sanitize_client_log_value(str(exception), MAX_REPORT_CHARS)
    _budget.warn("rxapp: a browser reported an error: %s", report)
