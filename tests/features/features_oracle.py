"""Brute-force reference for feature values: a plain loop over every event, no buckets, no SQL.

Written from the semantics in ember.features.spec's docstring, independently of the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Ev:
    seq: int
    event: str
    entity: str
    ts: int  # µs
    value: float
    attrs: dict[str, Any] | None = field(default=None)


def _filter_ok(attrs: dict | None, where: tuple) -> bool:
    for k, want in where:
        if not attrs or k not in attrs:
            return False
        options = want if isinstance(want, tuple) else (want,)
        got = attrs[k]
        if not any(type(got) is type(o) and got == o for o in options) and not any(
            isinstance(got, int | float)
            and not isinstance(got, bool)
            and isinstance(o, int | float)
            and not isinstance(o, bool)
            and got == o
            for o in options
        ):
            return False
    return True


def _key(f, e: Ev):  # noqa: ANN001
    if f.key == "entity":
        return ("s", e.entity)
    if f.key == "value":
        return ("v", e.value)
    name = f.key[len("attrs.") :]
    if not e.attrs or name not in e.attrs:
        return None
    return ("a", repr(e.attrs[name]))


def oracle_vector(events: list[Ev], spec, entity: str, at: int) -> np.ndarray:  # noqa: ANN001
    out: list[float] = []
    for f in spec.features:
        sel = [
            e
            for e in events
            if e.event == f.event
            and (f.scope == "any" or e.entity == entity)
            and e.ts <= at
            and (f.window_us is None or e.ts > at - f.window_us)
            and _filter_ok(e.attrs, f.where)
        ]
        if f.agg in ("last", "last_n"):
            sel.sort(key=lambda e: (e.ts, e.seq), reverse=True)
            vals = [e.value for e in sel[: f.width]]
            out.extend(vals + [f.default] * (f.width - len(vals)))
            continue
        if f.agg == "count_distinct":
            keys = {k for e in sel if (k := _key(f, e)) is not None}
            out.append(float(len(keys)) if keys else f.default)
            continue
        if not sel:
            out.append(f.default)
            continue
        vs = [e.value for e in sel]
        out.append(
            {
                "count": float(len(vs)),
                "sum": math.fsum(vs),
                "mean": math.fsum(vs) / len(vs),
                "min": min(vs),
                "max": max(vs),
            }[f.agg]
        )
    return np.array(out, dtype=np.float32)
