"""Whole numbers from people and browsers: ASCII digits only."""

from __future__ import annotations

import pytest

from rxapp.whole_numbers import parse_whole


@pytest.mark.parametrize(
    ("text", "number"), [("0", 0), ("042", 42), ("123456789012345678", 123456789012345678)]
)
def test_ascii_digits_are_read(text: str, number: int) -> None:
    assert parse_whole(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 1",
        "1 ",
        "-1",
        "+1",
        "1.0",
        "1_000",
        "\u00b9\u00b2",
        "\u0664\u0662",
        "\u2460",
        "\uff11",
        "1" * 19,
        None,
        12,
    ],
)
def test_anything_else_is_none(text: object) -> None:
    assert parse_whole(text) is None


def test_the_digit_limit_is_the_callers() -> None:
    assert parse_whole("999", max_digits=3) == 999
    assert parse_whole("1000", max_digits=3) is None
