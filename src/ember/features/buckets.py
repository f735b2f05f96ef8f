"""The time-bucket scheme: which pre-aggregated buckets and which raw events make up a window.

Every event is added, on write, to one bucket at each level of `GRANULARITIES` (1 minute, 15
minutes, 4 hours, 1 day, 1 week; bucket ``b`` of level ``g`` holds ``b*g <= ts < (b+1)*g``, in
integer microseconds since the epoch, so bucket boundaries are exact). Each coarser level is a
whole multiple of the finer one below it, so the boundaries nest.

A window is the half-open range ``[A, B)`` of microseconds (``at - w < ts <= at`` is
``[at - w + 1, at + 1)``). `decompose` splits it into:

* raw ranges at both ends, shorter than one minute, read from the raw event table, and
* per level, at most two runs of whole buckets (left and right edge) plus one middle run at the
  coarsest level that fits — each run lies entirely inside ``[A, B)``.

The pieces are disjoint and their union is exactly ``[A, B)``, so the aggregate (count, sum, min,
max, distinct keys) is exact, not an approximation. A read touches at most ~2 * (g[i+1]/g[i] - 1)
buckets per level (14+14, 15+15, 5+5, 6+6 and the weeks in the middle): O(buckets), independent of
how many events the window holds; plus the raw events of under two minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

US = 1_000_000
GRANULARITIES_S = (60, 900, 14_400, 86_400, 604_800)
GRANULARITIES = tuple(g * US for g in GRANULARITIES_S)
LEVELS = len(GRANULARITIES)
DAY_US = 86_400 * US
NEG_INF = -(2**62)  # "since forever": earlier than any timestamp, still an int64

for _fine, _coarse in zip(GRANULARITIES, GRANULARITIES[1:], strict=False):
    assert _coarse % _fine == 0, "levels must nest"


@dataclass(frozen=True)
class Plan:
    """Pieces of a window [A, B): raw µs ranges [lo, hi) and bucket runs (level, first, last) inclusive."""

    raw: tuple[tuple[int, int], ...]
    runs: tuple[tuple[int, int, int], ...]


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def decompose(a: int, b: int) -> Plan:
    """Split [a, b) into raw edge ranges and whole-bucket runs (see module doc)."""
    if b <= a:
        return Plan((), ())
    g0 = GRANULARITIES[0]
    lo = _ceil_div(a, g0) * g0
    hi = (b // g0) * g0
    if hi <= lo:
        return Plan(((a, b),), ())
    raw = [(a, lo)] if a < lo else []
    if hi < b:
        raw.append((hi, b))
    runs: list[tuple[int, int, int]] = []
    # [lo, hi) is aligned to level 0; climb while the next level still has a whole bucket inside.
    level = 0
    while True:
        g = GRANULARITIES[level]
        if level + 1 < LEVELS:
            gn = GRANULARITIES[level + 1]
            nlo = _ceil_div(lo, gn) * gn
            nhi = (hi // gn) * gn
            if nlo < nhi:
                if lo < nlo:
                    runs.append((level, lo // g, nlo // g - 1))
                if nhi < hi:
                    runs.append((level, nhi // g, hi // g - 1))
                lo, hi, level = nlo, nhi, level + 1
                continue
        runs.append((level, lo // g, hi // g - 1))
        break
    return Plan(tuple(raw), tuple(runs))


def bucket_ids(ts: int) -> tuple[int, ...]:
    """The bucket index of `ts` at every level."""
    return tuple(ts // g for g in GRANULARITIES)


@dataclass(frozen=True)
class Split:
    """A window [a, b) as its own pieces plus a share of the pieces every window ending at b has.

    own_raw: raw µs ranges of this window alone (the left edge, or the whole window if it holds no
    whole minute); left: (level, first, last) left-edge runs, at most one per level below the
    middle; middle: (level, first, last) or None; k: the window also covers `right_runs(b)[:k]`;
    right_raw: it also covers `right_raw(b)`.
    """

    own_raw: tuple[tuple[int, int], ...]
    left: tuple[tuple[int, int, int], ...]
    middle: tuple[int, int, int] | None
    k: int
    right_raw: bool


def split(a: int, b: int, rr: tuple[tuple[int, int, int], ...] | None = None) -> Split:
    """The same pieces as `decompose`, with the right edge factored out: windows that end at the
    same time share it, so a vector of many windows reads the right edge of each stream once.

    The climb of `decompose`, keeping only the left-edge runs (a right-edge run at level L is
    always `right_runs(b)[L]`, whatever the window; `rr` is accepted for compatibility). It runs
    once per window length per `vector()`, so it is written out rather than filtered from
    `decompose` (tested equal to it on random ranges).
    """
    if b <= a:
        return Split((), (), None, 0, False)
    g0 = GRANULARITIES[0]
    lo = -((-a) // g0) * g0
    hi = (b // g0) * g0
    if hi <= lo:
        return Split(((a, b),), (), None, 0, False)
    own = ((a, lo),) if a < lo else ()
    right = hi < b
    left = []
    level = 0
    g = g0
    while level + 1 < LEVELS:
        gn = GRANULARITIES[level + 1]
        nlo = -((-lo) // gn) * gn
        nhi = (hi // gn) * gn
        if nlo >= nhi:
            break
        if lo < nlo:
            left.append((level, lo // g, nlo // g - 1))
        lo, hi, level, g = nlo, nhi, level + 1, gn
    return Split(own, tuple(left), (level, lo // g, hi // g - 1), level, right)


def right_runs(b: int) -> tuple[tuple[int, int, int], ...]:
    """The right-edge run of each level below the top for windows ending at b (possibly empty)."""
    out = []
    for lvl in range(LEVELS - 1):
        g, gn = GRANULARITIES[lvl], GRANULARITIES[lvl + 1]
        hi = (b // g) * g
        lo = (b // gn) * gn
        out.append((lvl, lo // g, hi // g - 1))
    return tuple(out)


def right_raw(b: int) -> tuple[int, int]:
    g0 = GRANULARITIES[0]
    return ((b // g0) * g0, b)
