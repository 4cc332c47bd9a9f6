"""The one JSON decoder for peer input: malformed or too deep is JsonError, never a
RecursionError escaping to the caller."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kibitz.protocol._json import MAX_DEPTH, JsonError, loads


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    with pytest.raises(JsonError, match="nested deeper"):
        loads("[" * depth + "]" * depth)


def test_nesting_up_to_the_limit_decodes() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads('{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH) is not None


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"msg": "[" * 5_000 + '\\"{' * 100})
    assert loads(text) == json.loads(text)


def test_many_shallow_brackets_are_fine() -> None:
    users = [{"username": f"u{i}", "password": "x"} for i in range(500)]
    assert loads(json.dumps(users)) == users


@pytest.mark.parametrize("text", [b"{", b"\xff", b"[1,]", b"NaN", b""])
def test_malformed_is_json_error(text: bytes) -> None:
    with pytest.raises(JsonError):
        loads(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=20,
)


@given(json_values)
def test_agrees_with_the_standard_library(value: object) -> None:
    text = json.dumps(value)
    assert loads(text) == json.loads(text)
