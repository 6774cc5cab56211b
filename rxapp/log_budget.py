"""A cap on log lines that anyone on the network can cause."""

from __future__ import annotations

import logging
import time


class LogBudget:
    """At most `per_minute` lines a minute for the whole process (a flood from many
    connections), then one line saying how many of `what` were left out."""

    def __init__(self, logger: logging.Logger, per_minute: int, what: str) -> None:
        self.logger = logger
        self.per_minute = per_minute
        self.what = what
        self.window = 0
        self.lines = 0
        self.left_out = 0

    def warn(self, message: str, *args: object) -> None:
        """Log `message` as a warning unless this minute's lines are spent."""
        window = int(time.monotonic() // 60)
        if window != self.window:
            if self.left_out:
                self.logger.warning("rxapp: %d more %s were not logged", self.left_out, self.what)
            self.window, self.lines, self.left_out = window, 0, 0
        if self.lines < self.per_minute:
            self.lines += 1
            self.logger.warning(message, *args)
        else:
            self.left_out += 1
