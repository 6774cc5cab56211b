"""Short-lived signed links: a payload, an expiry and an HMAC over both, for one purpose."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from rxapp.services import secretbox, signed_links
from rxapp.settings import get_settings

PURPOSE = "users-csv"
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)  # a whole second: the expiry is exact
TTL = 60
PAYLOAD = {"admin": 7, "twofa": "activated", "q": "ann", "sort": "email", "desc": True}
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_over(body: str, purpose: str = PURPOSE) -> str:
    """A token whose signature is right for `body`, whatever the body holds (as only the
    holder of the key could make)."""
    key = secretbox.derived_key(f"signed-link:{purpose}")
    return f"{body}.{b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def make(payload: dict | None = None, *, now: datetime = T0, ttl: int = TTL) -> str:
    return signed_links.sign(
        PURPOSE, PAYLOAD if payload is None else payload, now=now, ttl_seconds=ttl
    )


def check(token: object, *, now: datetime = T0, purpose: str = PURPOSE) -> dict | None:
    return signed_links.verify(purpose, token, now=now)


def swap_char(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


# --- valid links ----------------------------------------------------------------------------


def test_a_signed_payload_verifies_to_the_same_payload():
    assert check(make()) == PAYLOAD


def test_payloads_with_unicode_and_nesting_round_trip():
    payload = {"q": "zoë 日本 🚀", "nested": {"list": [1, 2, None]}, "admin": 1}
    assert check(make(payload)) == payload


def test_a_token_is_url_safe_text():
    token = make({"q": "a/b+c?d&e=f"})
    assert set(token) <= set(B64URL + ".")
    assert token.count(".") == 1


def test_a_link_is_valid_until_just_before_its_expiry():
    assert check(make(), now=T0 + timedelta(seconds=TTL) - timedelta(microseconds=1)) == PAYLOAD
    assert check(make(), now=T0 + timedelta(seconds=TTL - 1)) == PAYLOAD


# --- expiry ---------------------------------------------------------------------------------


def test_a_link_is_refused_exactly_at_its_expiry():
    assert check(make(), now=T0 + timedelta(seconds=TTL)) is None


@pytest.mark.parametrize("later", [timedelta(seconds=TTL + 1), timedelta(days=365)])
def test_a_link_is_refused_after_its_expiry(later):
    assert check(make(), now=T0 + later) is None


def test_a_zero_ttl_link_is_never_valid():
    assert check(make(ttl=0), now=T0) is None


def test_the_expiry_cannot_be_pushed_back_without_the_key():
    body, signature = make().split(".")
    data = json.loads(unb64(body))
    data["exp"] += 3600
    forged = f"{b64(json.dumps(data).encode())}.{signature}"
    assert check(forged, now=T0 + timedelta(seconds=TTL + 10)) is None


# --- tampering ------------------------------------------------------------------------------


def test_a_changed_payload_with_the_old_signature_is_refused():
    body, signature = make().split(".")
    data = json.loads(unb64(body))
    data["p"]["admin"] = 1
    assert check(f"{b64(json.dumps(data).encode())}.{signature}") is None


@pytest.mark.parametrize("index", [0, 5, 20, -5])
def test_a_changed_character_in_the_body_is_refused(index):
    body, signature = make().split(".")
    assert check(f"{swap_char(body, index)}.{signature}") is None


@pytest.mark.parametrize("index", [0, 10, 30])
def test_a_changed_character_in_the_signature_is_refused(index):
    body, signature = make().split(".")
    assert check(f"{body}.{swap_char(signature, index)}") is None


@pytest.mark.parametrize(
    "cut", [lambda s: s[:-1], lambda s: s[:-4], lambda s: "", lambda s: s + "AAAA"]
)
def test_a_shortened_lengthened_or_missing_signature_is_refused(cut):
    body, signature = make().split(".")
    assert check(f"{body}.{cut(signature)}") is None


def test_a_signature_from_another_link_is_refused():
    _, other_signature = make({"admin": 8}).split(".")
    body, _ = make().split(".")
    assert check(f"{body}.{other_signature}") is None


def test_a_link_for_another_purpose_is_refused():
    token = signed_links.sign("password-reset", PAYLOAD, now=T0, ttl_seconds=TTL)
    assert check(token) is None
    assert signed_links.verify("password-reset", token, now=T0) == PAYLOAD
    assert signed_links.verify("users-csv ", make(), now=T0) is None


def test_a_link_signed_with_another_key_is_refused(monkeypatch):
    token = make()
    monkeypatch.setenv("RXAPP_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    secretbox.forget_keys()
    try:
        assert check(token) is None
        assert check(make()) == PAYLOAD  # the new key signs and verifies its own links
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        secretbox.forget_keys()
    assert check(token) == PAYLOAD


# --- garbage --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        0,
        12345,
        1.5,
        b"abc.def",
        ["a.b"],
        {"token": "a.b"},
        "",
        ".",
        "..",
        "a.b",
        "a.b.c",
        "abc",
        "!!!.???",
        "é.ü",
        "%00.%00",
        " . ",
        "x" * 3000,
        "a" * 5000 + "." + "b" * 5000,
        "\x00.\x00",
    ],
    ids=repr,
)
def test_garbage_gives_none_without_raising(garbage):
    assert check(garbage) is None


def test_a_very_long_token_is_refused_even_with_a_valid_signature():
    token = make({"q": "x" * 3000})
    assert len(token) > 2048
    assert check(token) is None


@pytest.mark.parametrize(
    "body_bytes",
    [
        b"not json at all",
        b"\xff\xfe\xfd",  # not UTF-8
        b"",
        b"[1, 2, 3]",
        b'"a string"',
        b"null",
        b"{}",
        b'{"p": {"admin": 1}}',  # no expiry
        b'{"p": {"admin": 1}, "exp": "99999999999"}',  # expiry not a number
        b'{"p": {"admin": 1}, "exp": 99999999999.5}',
        b'{"p": ["admin", 1], "exp": 99999999999}',  # payload not an object
        b'{"p": null, "exp": 99999999999}',
        b'{"exp": 99999999999}',
    ],
    ids=repr,
)
def test_a_valid_signature_over_a_malformed_body_gives_none(body_bytes):
    assert check(signed_over(b64(body_bytes))) is None


def test_a_valid_signature_over_a_body_that_is_not_base64_gives_none():
    assert check(signed_over("!!not*base64!!")) is None
    assert check(signed_over("é")) is None


def test_a_token_with_a_lone_surrogate_gives_none_without_raising():
    """Python strings can hold lone surrogates (e.g. from os.fsdecode or a careless decoder);
    a token is untrusted input of any kind."""
    assert check("\ud800.abc") is None
    assert check(make()[:-1] + "\udfff") is None


# Any code point, with the token's own alphabet and lone surrogates made common.
# (Built from a list: st.text drops surrogates from a mixed alphabet.)
ANY_TEXT = st.lists(
    st.one_of(
        st.characters(exclude_categories=()),
        st.sampled_from(B64URL + "=."),
        st.characters(categories=["Cs"]),
    ),
    max_size=300,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(ANY_TEXT, st.builds("{}.{}".format, ANY_TEXT, ANY_TEXT)))
def test_arbitrary_text_never_raises_and_never_verifies(text):
    assert check(text) is None


@settings(max_examples=300, deadline=None)
@given(st.text(B64URL, min_size=0, max_size=120), st.text(B64URL, min_size=0, max_size=60))
def test_arbitrary_token_shaped_text_never_raises_and_never_verifies(body, signature):
    assert check(f"{body}.{signature}") is None


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_a_valid_signature_over_arbitrary_bytes_never_raises(body_bytes):
    result = check(signed_over(b64(body_bytes)))
    assert result is None or isinstance(result, dict)
