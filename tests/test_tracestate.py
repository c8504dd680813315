"""tracestate as the current W3C Trace Context reads it: the rules of shoptrace.propagation.parse_tracestate.

Each case states one rule of the spec (and of the strictness its test suite
asks for) in this project's own words; tests/test_hostile_headers.py checks
the same parser at work in checkout, end to end.
"""

from __future__ import annotations

import pytest

from shoptrace.propagation import parse_tracestate


def members(*fields: str) -> list[tuple[str, str]]:
    return list(parse_tracestate(list(fields)).items())


def test_fields_are_one_list_in_the_order_received_with_optional_whitespace_ignored() -> None:
    assert members("b=1 ,\t a=2", "", " , c=3\t") == [("b", "1"), ("a", "2"), ("c", "3")]


def test_a_value_keeps_its_leading_spaces_and_every_allowed_character() -> None:
    value = " " + "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ",=")
    assert members(f"k={value}") == [("k", value)]


@pytest.mark.parametrize(
    "key",
    [
        "abcdefghijklmnopqrstuvwxyz0123456789_-*/",  # every character a plain key may hold
        "9starts-with-a-digit",
        "tenant@vendor",
        "trailing@",  # the current grammar lets @ stand anywhere after the first character
        "two@@signs",
        "several@at@signs",
        "t" * 241 + "@" + "v" * 14,  # 256 characters, the longest key
        "t@" + "v" * 15,  # more than 13 characters after the @ (the older grammar's limit)
        "z" * 256,
    ],
)
def test_keys_of_the_current_grammar_are_kept_with_the_members_beside_them(key: str) -> None:
    assert members(f"first=1,{key}=2,last=3") == [("first", "1"), (key, "2"), ("last", "3")]


@pytest.mark.parametrize(
    "bad_member",
    [
        "@leading-at=1",
        "Upper=1",
        "dot.ted=1",
        "space =1",
        "z" * 257 + "=1",  # a key one character too long
        "k=a=b",  # "=" inside a value
        "k=",  # no value
        "k=" + "x" * 257,  # a value one character too long
    ],
)
def test_one_member_outside_the_grammar_discards_the_whole_header(bad_member: str) -> None:
    assert members("good=1", bad_member) == []
    assert members(f"{bad_member},good=1") == []


def test_a_repeated_key_keeps_its_first_value_and_drops_the_rest() -> None:
    assert members("a=1,b=2,a=3") == [("a", "1"), ("b", "2")]
    assert members("a=1", "a=1") == [("a", "1")]


def test_32_members_are_kept_and_33_discard_the_header() -> None:
    thirty_two = [f"m{i}={i}" for i in range(32)]
    assert len(members(",".join(thirty_two[:10]), ",".join(thirty_two[10:]))) == 32
    assert members(",".join(thirty_two), "m32=32") == []


def test_a_header_over_8192_characters_is_not_parsed_at_all() -> None:
    fields = ",".join(f"k{i}=" + "v" * 255 for i in range(32))  # 32 valid members, 8,309 characters
    assert len(fields) > 8192 and members(fields) == []


def test_an_empty_header_is_accepted_and_empty() -> None:
    assert members("") == [] and members(" , ,\t") == []
