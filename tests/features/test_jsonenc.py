"""The attribute encoder gives exactly json.dumps(sort_keys, compact, allow_nan=False) text, or its errors."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ember.features.jsonenc import encode

_REF = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(), c, max_size=3))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=6))
def test_same_text_as_the_json_module(attrs):
    assert encode(attrs) == _REF.encode(attrs)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(bad):
    with pytest.raises(ValueError):
        encode({"x": bad})
    with pytest.raises(ValueError):
        encode({"x": [1, {"y": bad}]})


def test_unserializable_and_circular_values_are_refused():
    with pytest.raises(TypeError):
        encode({"x": object()})
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ValueError):
        encode({"x": loop})
