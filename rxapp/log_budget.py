"""A cap on log lines that anyone on the network can cause."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter

# Sources counted apart within a minute; past this many (a flood from a whole network's
# addresses), newer ones share the process's budget only.
MAX_SOURCES = 10_000


def source_of(address: str) -> str:
    """The source a client address counts as: itself, or its /64 for IPv6 (one host's
    share of addresses); "" for none."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class LogBudget:
    """At most `per_minute` lines a minute for the whole process (a flood from many
    connections), and at most `per_source` of them for one source (a client address), so
    that one client neither fills the log nor crowds out the lines of others. When a source
    or the minute runs out, one line says so at once; how many were left out is logged when
    the minute is over."""

    def __init__(
        self, logger: logging.Logger, per_minute: int, what: str, *, per_source: int = 0
    ) -> None:
        self.logger = logger
        self.per_minute = per_minute
        self.per_source = per_source or per_minute
        self.what = what
        self.window = 0
        self.lines = 0
        self.left_out = 0
        self.minute_spent = False
        self.by_source: Counter[str] = Counter()

    def warn(self, message: str, *args: object, source: str = "") -> None:
        """Log `message` as a warning unless this minute's lines (or `source`'s) are spent."""
        self._roll(int(time.monotonic() // 60))
        if source and self._count(source) > self.per_source:
            first = self.by_source[source] == self.per_source + 1
            self._leave_out(told=not first, whose=f" from {source}")
        elif self.lines >= self.per_minute:
            self._leave_out(told=self.minute_spent, whose="")
            self.minute_spent = True
        else:
            self.lines += 1
            self.logger.warning(message, *args)

    def _count(self, source: str) -> int:
        """One more line asked for by `source` this minute: its count (0: not counted)."""
        if source not in self.by_source and len(self.by_source) >= MAX_SOURCES:
            return 0
        self.by_source[source] += 1
        return self.by_source[source]

    def _leave_out(self, *, told: bool, whose: str) -> None:
        """Count a line left out; say so at once when a budget has just run out."""
        if not self.left_out:
            self._flush_when_the_minute_ends()
        self.left_out += 1
        if not told:
            self.logger.warning(
                "rxapp: more %s%s this minute than the log takes: the rest are counted",
                self.what,
                whose,
            )

    def _roll(self, window: int) -> None:
        if window == self.window:
            return
        if self.left_out:
            self.logger.warning("rxapp: %d more %s were not logged", self.left_out, self.what)
        self.window, self.lines, self.left_out = window, 0, 0
        self.minute_spent = False
        self.by_source.clear()

    def _flush_when_the_minute_ends(self) -> None:
        """Log the count at the end of the minute, even if no line is asked for after it
        (without an event loop, the next line asked for logs it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        ends_in = (self.window + 1) * 60 - time.monotonic()
        loop.call_later(max(ends_in, 0) + 0.01, lambda: self._roll(int(time.monotonic() // 60)))
