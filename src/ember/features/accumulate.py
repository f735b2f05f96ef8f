"""Bucket maintenance on write: the deltas of a batch of events, folded per minute and rolled up.

Used by logging (`FeatureStore.flush`/`log`), by backfilling a newly registered stream and by
rebuilding all-entity buckets after `forget`.
"""

from __future__ import annotations

import sqlite3

from ember.features import buckets as bk
from ember.features.spec import distinct_key, matches

NEG_INF = bk.NEG_INF
UPSERT = (
    "INSERT INTO buckets(stream, ent, lvl, b, cnt, sm, mn, mx) VALUES (?,?,?,?,?,?,?,?) "
    "ON CONFLICT(stream, ent, lvl, b) DO UPDATE SET cnt = cnt + excluded.cnt, sm = sm + excluded.sm, "
    "mn = min(mn, excluded.mn), mx = max(mx, excluded.mx)"
)
DINSERT = "INSERT OR IGNORE INTO dbuckets(stream, ent, lvl, b, k) VALUES (?,?,?,?,?)"
_G0 = bk.GRANULARITIES[0]
_DLAST = (
    "INSERT INTO dlast(stream, ent, k, last_ts) VALUES (?,?,?,?) "
    "ON CONFLICT(stream, ent, k) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts)"
)


class Accumulator:
    """Bucket deltas of a batch, kept per minute and rolled up to the coarser levels on write."""

    __slots__ = ("num", "dk", "last", "seen")

    def __init__(self, match_cache: dict[tuple, bool] | None = None) -> None:
        self.num: dict[tuple, list] = {}  # (stream, ent, minute) -> [count, sum, min, max]
        self.dk: set[tuple] = set()  # (stream, ent, minute, key)
        self.last: dict[tuple, int] = {}  # (stream, ent, key) -> latest ts
        self.seen = match_cache if match_cache is not None else {}  # (attrs JSON, where) -> matches

    def __len__(self) -> int:
        return len(self.num) + len(self.dk)

    def add(self, streams, ent, entity, ts, value, attrs, aj=None) -> None:  # noqa: ANN001
        """One event; `aj` (its attrs as canonical JSON) lets filter results be reused across events."""
        m = ts // _G0
        num = self.num
        for s in streams:
            where = s.where
            if where:
                if aj is None:
                    if not matches(attrs, where):
                        continue
                else:
                    ok = self.seen.get((aj, where))
                    if ok is None:
                        if len(self.seen) > 50_000:
                            self.seen.clear()
                        ok = self.seen[(aj, where)] = matches(attrs, where)
                    if not ok:
                        continue
            e = 0 if s.any else ent
            dkey = s.dkey
            if dkey:
                k = distinct_key(dkey, entity, value, attrs)
                if k is not None:
                    sid = s.id
                    self.dk.add((sid, e, m, k))
                    lk = (sid, e, k)
                    if self.last.get(lk, NEG_INF) < ts:
                        self.last[lk] = ts
                continue
            key = (s.id, e, m)
            d = num.get(key)
            if d is None:
                num[key] = [1, value, value, value]
            else:
                d[0] += 1
                d[1] += value
                if value < d[2]:
                    d[2] = value
                elif value > d[3]:
                    d[3] = value

    def write(self, conn: sqlite3.Connection, known: set | None = None) -> None:
        """Apply the deltas. `known`: distinct-key bucket rows this store already wrote (skipped)."""
        if self.num:
            rows = []  # the minute rows are the folded deltas themselves; coarser levels are merged
            rolled: dict[tuple, list] = {}
            coarser = tuple(enumerate(bk.GRANULARITIES))[1:]
            for (sid, e, m), v in self.num.items():
                rows.append((sid, e, 0, m, *v))
                t0 = m * _G0
                for lvl, g in coarser:
                    key = (sid, e, lvl, t0 // g)
                    d = rolled.get(key)
                    if d is None:
                        rolled[key] = list(v)
                    else:
                        d[0] += v[0]
                        d[1] += v[1]
                        if v[2] < d[2]:
                            d[2] = v[2]
                        if v[3] > d[3]:
                            d[3] = v[3]
            rows += [(*k, *v) for k, v in rolled.items()]
            conn.executemany(UPSERT, rows)
            self.num.clear()
        if self.dk:
            # Distinct-key buckets from level 1 (15 minutes) up: level-0 runs of a window are read
            # from the raw events (FeatureStore._slow_distinct). A row's coarser rows are added to
            # `known` together with it, so the climb stops at the first row already known.
            if known is None:
                known = set()
            elif len(known) > 500_000:
                known.clear()
            rows = []
            grans = bk.GRANULARITIES
            for sid, e, m, k in self.dk:
                t0 = m * _G0
                for lvl in range(1, bk.LEVELS):
                    r = (sid, e, lvl, t0 // grans[lvl], k)
                    if r in known:
                        break
                    known.add(r)
                    rows.append(r)
            conn.executemany(DINSERT, rows)
            self.dk.clear()
        if self.last:
            conn.executemany(_DLAST, [(*k, t) for k, t in self.last.items()])
            self.last.clear()
