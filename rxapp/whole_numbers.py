"""Whole numbers written by people or browsers: ASCII digits only."""

from __future__ import annotations


def parse_whole(text: object, *, max_digits: int = 18) -> int | None:
    """`text` as a whole number when it is 1 to `max_digits` ASCII digits, else None.
    (`str.isdigit` also admits "²", which `int` refuses, and "٤٢", which it reads as 42.)"""
    if not isinstance(text, str) or not 0 < len(text) <= max_digits:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def port_number(text: object) -> int | None:
    """`text` as a TCP port (1 to 65535), else None."""
    port = parse_whole(text, max_digits=5)
    return port if port is not None and 0 < port < 65536 else None
