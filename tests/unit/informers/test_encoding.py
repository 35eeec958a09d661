"""JSON for the apiserver: orjson decoding that never changes behaviour, and apply bodies the
apiserver's YAML reader accepts (pure)."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from informers.encoding import encode_apply_patch, loads

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_decoding_equals_the_standard_library(value: object) -> None:
    raw = json.dumps(value).encode()
    assert loads(raw) == json.loads(raw)
    assert loads(raw.decode()) == json.loads(raw)


def test_what_orjson_refuses_is_read_by_the_standard_library() -> None:
    assert math.isnan(loads(b'{"a": NaN}')["a"])
    assert loads(b'"\\ud800"') == "\ud800"
    assert loads(b'{"a": 1e400}')["a"] == math.inf


@given(JSON)
def test_apply_bodies_round_trip(value: object) -> None:
    assert json.loads(encode_apply_patch(value)) == value


def test_apply_bodies_escape_only_what_yaml_cannot_read_raw() -> None:
    raw = encode_apply_patch({"s": "é😀\x7f\x85\u009f\ufffe\uffff"})
    assert raw == '{"s":"é😀\\u007f\\u0085\\u009f\\ufffe\\uffff"}'.encode()
    assert b"\\ud83d" not in raw
