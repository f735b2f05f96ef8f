"""Canonical JSON text of an event's attributes: sorted keys, no spaces, ASCII, finite numbers only.

The same text as ``json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)``, from
the C encoder built once (building it is most of the cost of ``JSONEncoder.encode`` for a small
dict: 0.6 µs instead of 2.7 µs for two attributes). Without the C accelerator, the plain encoder.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

try:
    from json.encoder import c_make_encoder
except ImportError:  # pragma: no cover - CPython always has _json
    c_make_encoder = None

_ENC = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def _default(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


# markers=None: no circular-reference bookkeeping (shared state would race between threads); a
# circular value ends in RecursionError, which `encode` reports as a ValueError.
_C = (
    c_make_encoder(None, _default, encode_basestring_ascii, None, ":", ",", True, False, False)
    if c_make_encoder is not None
    else None
)


def encode(attrs: Any) -> str:
    """Raises TypeError (not serializable) or ValueError (NaN/inf, circular) like json.dumps."""
    if _C is None:
        return _ENC.encode(attrs)
    try:
        return "".join(_C(attrs, 0))
    except RecursionError:
        raise ValueError("Circular reference detected") from None
