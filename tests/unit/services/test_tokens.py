"""Bearer tokens: at least 128 random bits, stored only as a SHA-256 hex digest."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxapp.services.tokens import new_token, token_hash

_URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def test_new_token_carries_at_least_128_random_bits():
    token = new_token()

    # token_urlsafe(32): 32 random bytes in unpadded URL-safe base64 are 43 characters.
    assert len(token) == 43
    assert _URLSAFE.match(token)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128
    assert len(raw) == 32


def test_new_tokens_do_not_repeat():
    tokens = {new_token() for _ in range(1000)}

    assert len(tokens) == 1000


def test_new_tokens_use_the_whole_alphabet():
    # A weak generator (e.g. only hex digits, or a fixed prefix) would show here.
    seen = set("".join(new_token() for _ in range(200)))

    assert len(seen) >= 60
    assert len({new_token()[:8] for _ in range(200)}) == 200


def test_token_hash_is_the_sha256_hex_digest():
    token = new_token()

    digest = token_hash(token)

    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert _SHA256_HEX.match(digest)
    assert token not in digest


def test_token_hash_is_stable_and_distinguishes_tokens():
    token = new_token()

    assert token_hash(token) == token_hash(token)
    assert token_hash(token) != token_hash(new_token())
    assert token_hash(token) != token_hash(token.upper())


def test_token_hash_accepts_tokens_up_to_128_characters():
    assert token_hash("t" * 128) == hashlib.sha256(b"t" * 128).hexdigest()


@pytest.mark.parametrize(
    "token",
    [None, "", "t" * 129, "t" * 1_000_000, b"bytes-token", 12345, ["token"], {"token": 1}],
    ids=["none", "empty", "129-chars", "huge", "bytes", "int", "list", "dict"],
)
def test_token_hash_refuses_what_cannot_be_a_token(token):
    assert token_hash(token) is None


@settings(database=None, deadline=None)
@given(st.text(max_size=200))
def test_token_hash_never_raises_on_any_text(text):
    digest = token_hash(text)

    if text and len(text) <= 128:
        assert digest is not None
        assert _SHA256_HEX.match(digest)
    else:
        assert digest is None


def test_token_hash_survives_lone_surrogates():
    assert _SHA256_HEX.match(token_hash("\ud800"))
