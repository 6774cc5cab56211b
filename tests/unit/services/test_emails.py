"""Email normalisation and the deliberately simple validity check."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rxapp.services.emails import MAX_EMAIL_LENGTH, email_problem, masked_email, normalize_email

EMPTY = "Enter your email address."
INVALID = "Enter a valid email address, like name@example.com."

# No example database: it would write a .hypothesis folder into the project.
quick = settings(database=None, deadline=None)


# Normalisation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Name@Example.COM", "name@example.com"),
        ("  name@example.com\t\n", "name@example.com"),
        ("\u00a0name@example.com\u2003", "name@example.com"),
        ("ÉLODIE@EXAMPLE.COM", "élodie@example.com"),
        ("", ""),
    ],
    ids=["case", "ascii-whitespace", "unicode-whitespace", "unicode-case", "empty"],
)
def test_normalize_trims_and_lower_cases(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", [None, 42, b"name@example.com", ["name@example.com"], object()])
def test_normalize_turns_non_strings_into_empty_text(raw):
    assert normalize_email(raw) == ""


def test_non_string_email_is_reported_as_missing():
    assert email_problem(normalize_email(None)) == EMPTY
    assert email_problem(normalize_email(b"name@example.com")) == EMPTY


def test_normalize_keeps_inner_spaces_so_the_check_can_refuse_them():
    assert normalize_email(" a b@example.com ") == "a b@example.com"


# Validity -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "name@example.com",
        "first.last+tag@mail.example.co.uk",
        "o'brien@example.ie",
        "josé@exämple.com",
        "用户@例子.中国",
        "name@xn--bcher-kva.example",
        "l" * 64 + "@example.com",
        "l" * 64 + "@" + ".".join(["d" * 61] * 3) + ".com",  # exactly 254 characters
    ],
    ids=[
        "plain",
        "dots-and-plus",
        "apostrophe",
        "unicode-latin",
        "unicode-cjk",
        "punycode",
        "64-char-local-part",
        "254-chars",
    ],
)
def test_valid_addresses_have_no_problem(email):
    assert len(email) <= MAX_EMAIL_LENGTH
    assert email_problem(email) is None


@pytest.mark.parametrize(
    "email",
    [
        "plain",
        "@example.com",
        "name@",
        "name@localhost",
        "name@@example.com",
        "a@b@example.com",
        "name@example.",
        "name@.example.com",
        "name@example..com",
        "a b@example.com",
        "name@exa mple.com",
        "name@example.com extra",
        "a\tb@example.com",
        "a\u00a0b@example.com",
        "a\u2003b@example.com",
        "name\x00@example.com",
        "name\x7f@example.com",
        "name\x1b@example.com",
        "name\uff20example.com",  # full-width commercial at
        "l" * 65 + "@example.com",
        "l" * 64 + "@" + "d" * 186 + ".com",  # 255 characters
    ],
    ids=[
        "no-at",
        "no-local-part",
        "no-domain",
        "no-dot-in-domain",
        "double-at",
        "two-ats",
        "trailing-dot",
        "leading-dot-in-domain",
        "empty-label",
        "space-in-local-part",
        "space-in-domain",
        "trailing-words",
        "tab",
        "no-break-space",
        "em-space",
        "nul",
        "del",
        "escape",
        "full-width-at",
        "65-char-local-part",
        "255-chars",
    ],
)
def test_invalid_addresses_are_refused(email):
    assert email_problem(email) == INVALID


def test_empty_address_asks_for_one():
    assert email_problem("") == EMPTY


def test_whitespace_only_address_asks_for_one_after_normalising():
    assert email_problem(normalize_email(" \t\u00a0\n ")) == EMPTY


@pytest.mark.parametrize(
    "email",
    [
        "a" * 1_000_000 + "@example.com",
        "name@" + "d." * 500_000 + "com",
        "@" * 1_000_000,
        "name@example.com" * 100_000,
    ],
    ids=["huge-local-part", "huge-domain", "only-ats", "repeated-address"],
)
def test_huge_input_is_refused(email):
    assert email_problem(normalize_email(email)) == INVALID


def test_address_with_a_trailing_newline_is_refused_without_normalising():
    # A regex ending in `$` would also match before a final newline.
    assert email_problem("name@example.com\n") == INVALID


# Properties -----------------------------------------------------------------------------------


@quick
@given(st.text())
def test_normalize_is_idempotent(raw):
    once = normalize_email(raw)

    assert normalize_email(once) == once


@quick
@given(
    st.one_of(st.text(), st.binary(), st.integers(), st.none(), st.floats(), st.lists(st.text()))
)
def test_check_never_raises_and_answers_with_a_known_message(raw):
    assert email_problem(normalize_email(raw)) in (None, EMPTY, INVALID)


_part = st.text(st.characters() | st.sampled_from("@. \t\n\x00\x7f\u00a0"), max_size=70)


@quick
@given(local=_part, domain=_part, tld=_part)
def test_accepted_addresses_are_single_line_one_at_and_within_limits(local, domain, tld):
    # Arbitrary text around the shape of an address, so that many candidates pass the check.
    email = normalize_email(f"{local}@{domain}.{tld}")
    if email_problem(email) is not None:
        return

    local, domain = email.split("@")  # exactly one @, or this raises
    assert 1 <= len(local) <= 64
    assert "." in domain
    assert len(email) <= MAX_EMAIL_LENGTH
    assert not any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in email)


# One script per label: IDNA refuses labels that mix scripts or directions.
_letters = st.sampled_from("abcdefghijklmnopqrstuvwxyzéèüöçñ")
_label_chars = _letters | st.sampled_from("0123456789")
_label = st.builds(
    lambda head, middle: head + middle,
    _label_chars,
    st.text(_label_chars | st.just("-"), max_size=19).filter(lambda t: not t.endswith("-")),
)
_local_word = st.text(_label_chars | st.sampled_from("_+'"), min_size=1, max_size=20)


@quick
@given(
    words=st.lists(_local_word, min_size=1, max_size=3),
    labels=st.lists(_label, min_size=1, max_size=3),
    tld=st.text(_letters, min_size=2, max_size=6),
)
def test_generated_addresses_of_the_accepted_shape_are_valid(words, labels, tld):
    email = f"{'.'.join(words)}@{'.'.join([*labels, tld])}"
    assume(normalize_email(email) == email and len(email.split("@")[0]) <= 64)
    assume(len(email) <= MAX_EMAIL_LENGTH)
    assume("--" not in email.split("@")[1])  # reserved for IDNA's own labels

    assert email_problem(email) is None


@quick
@given(prefix=st.text(max_size=20), suffix=st.text(max_size=20))
def test_inner_whitespace_is_always_refused(prefix, suffix):
    email = normalize_email(f"x{prefix} {suffix}x@example.com")

    assert email_problem(email) == INVALID


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u200d", "\u2060"])
def test_invisible_format_characters_are_refused(invisible):
    assert email_problem(f"admin{invisible}@example.com") is not None


# Unicode and IDNA forms ------------------------------------------------------------------------


def test_nfc_and_nfd_spellings_are_one_address():
    assert normalize_email("jose\u0301@example.com") == normalize_email("jos\u00e9@example.com")


def test_the_domain_is_idna_normalised_and_lower_cased():
    assert normalize_email("X@B\u00fccher.DE") == "x@b\u00fccher.de"
    assert normalize_email("x@xn--bcher-kva.de") == "x@b\u00fccher.de"


@pytest.mark.parametrize("email", ["a..b@example.com", "a@-b.com", ".a@example.com"])
def test_addresses_email_validator_refuses_are_refused(email):
    assert email_problem(normalize_email(email)) == INVALID


def test_masked_email_keeps_the_first_letter_and_the_domain():
    assert masked_email("alice@example.com") == "a…@example.com"
    assert masked_email("not-an-address") == ""
