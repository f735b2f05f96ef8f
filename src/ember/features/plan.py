"""Read plans: a FeatureSpec compiled, once, into the SQL that one `vector()` runs.

Features are grouped by (stream, window); every group's bucket pieces, raw edges, distinct-key
counts and newest rows go into one compound SELECT whose text is fixed per spec (only numbers are
bound per call). Result ids: group ids, then one block of ids per stream for its shared right
edge (`buckets.split`), then raw rows at ROWS_OFF and count_distinct results at DIST_OFF.
"""

from __future__ import annotations

from dataclasses import dataclass

from ember.features import buckets as bk
from ember.features.spec import Feature, FeatureSpec

NEG_INF = bk.NEG_INF
ROWS_OFF = 1 << 40  # result ids of raw rows (last, filtered edges) and of count_distinct results
DIST_OFF = 1 << 41
_NUMERIC = ("count", "sum", "mean", "min", "max")
_RAW_COLS = "r.column1 AS g, 1 AS c, e.value AS s, e.value AS lo, e.value AS hi"  # named: may come first


class Stream:
    """One (event, where, scope, distinct key): the unit the store keeps time buckets for."""

    __slots__ = ("id", "ev", "where", "scope", "dkey", "any")

    def __init__(self, id: int, ev: int, where: tuple, scope: str, dkey: str) -> None:  # noqa: A002
        self.id, self.ev, self.where, self.scope, self.dkey = id, ev, where, scope, dkey
        self.any = scope == "any"


@dataclass
class Group:
    gid: int
    kind: str  # "num", "dist", "last"
    stream: Stream
    window_us: int | None
    n: int = 1
    top: int = 0  # the coarsest bucket level a window of this length can contain whole
    count_only: bool = False  # every feature of the group is a count: its buckets are read for cnt only

    def __post_init__(self) -> None:
        w = self.window_us
        self.top = max(lvl for lvl, g in enumerate(bk.GRANULARITIES) if w is None or g <= w or lvl == 0)


@dataclass
class Plan:
    spec: FeatureSpec
    groups: list[Group]
    slots: list[tuple[Feature, Group]]
    num_sql: str | None
    rows_sql: list[tuple[str, int]]  # compound SELECTs of at most 400 terms, with their parameter counts
    dist_sql: list[tuple[str, int]]
    slow_last: list[Group]  # filtered last/last_n: scanned in Python until n matches
    by_gid: dict[int, Group]
    single_sql: str | None
    blocks: list[tuple[int, int, bool]]  # shared right edge per stream: (stream id, levels, all entities)
    block_base: dict[int, int]  # stream id -> first result id of its block (level L: base + L; raw: + LEVELS)
    block_raw: dict[int, int | None]  # stream id -> event id if its block reads the raw right edge
    block_count_only: dict[int, bool]  # stream id -> only count features read its right edge


def compile_plan(spec: FeatureSpec, streams: dict[tuple, Stream]) -> Plan:
    """Group features by (stream, window) and build the SQL statements one vector() runs.

    The statement texts are fixed per spec (empty bucket runs are bound as BETWEEN 1 AND 0), so
    SQLite prepares them once and every vector() only binds numbers.
    """
    groups: dict[tuple, Group] = {}
    slots: list[tuple[Feature, Group]] = []
    for f in spec.features:
        kind = "num" if f.agg in _NUMERIC else "dist" if f.agg == "count_distinct" else "last"
        key = (kind, f.stream, f.window_us)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(len(groups), kind, streams[f.stream], f.window_us, f.width)
        g.n = max(g.n, f.width)
        slots.append((f, g))
    for g in groups.values():
        g.count_only = g.kind == "num" and all(f.agg == "count" for f, h in slots if h is g)
    stream_count_only: dict[int, bool] = {}
    for g in groups.values():
        if g.kind == "num":
            sid = g.stream.id
            stream_count_only[sid] = stream_count_only.get(sid, True) and g.count_only
    # bucket pieces of count-only groups go to their own join, which reads and sums one column only
    bucket_rows: list[str] = []
    count_rows: list[str] = []
    raw_ent_rows, raw_any_rows = [], []
    top_of: dict[int, int] = {}  # stream id -> deepest level any of its windows reaches
    block_raw: dict[int, int | None] = {}
    rows_parts, dist_parts, slow = [], [], []
    for g in groups.values():
        s = g.stream
        ent = "ent = 0" if s.any else "ent = ?"
        raw_ent = "" if s.any else " AND ent = ?"
        if g.kind == "last":
            if s.where:
                slow.append(g)
            else:
                rows_parts.append(
                    f"SELECT * FROM (SELECT {g.gid + ROWS_OFF}, ts, seq, value, NULL FROM events "
                    f"WHERE ev = {s.ev}{raw_ent} AND ts >= ? AND ts < ? "
                    f"ORDER BY ts DESC, seq DESC LIMIT {g.n})"
                )
            continue
        if g.kind == "dist":
            dist_parts.append(
                f"SELECT {g.gid + DIST_OFF}, (SELECT count(*) FROM dlast WHERE stream = {s.id} AND {ent} "
                f"AND last_ts >= ? "
                f"AND last_ts < ?), (SELECT max(last_ts) FROM dlast WHERE stream = {s.id} AND {ent}), "
                "NULL, NULL"
            )
            continue
        e = "0" if s.any else "?"
        rows = count_rows if g.count_only else bucket_rows
        for lvl in range(g.top):  # left-edge runs, one per level
            rows.append(f"({g.gid},{s.id},{e},{lvl},?,?)")
        rows.append(f"({g.gid},{s.id},{e},?,?,?)")  # the middle run, at the level the window reaches
        top_of[s.id] = max(top_of.get(s.id, 0), g.top)
        if s.where:  # raw edges filtered in Python: own raw piece and right raw piece
            for _ in range(2):
                rows_parts.append(
                    f"SELECT {g.gid + ROWS_OFF}, ts, seq, value, attrs FROM events "
                    f"WHERE ev = {s.ev}{raw_ent} "
                    f"AND ts >= ? AND ts < ?"
                )
            block_raw.setdefault(s.id, None)
        else:
            (raw_any_rows if s.any else raw_ent_rows).append(
                f"({g.gid},{s.ev},?,?)" if s.any else f"({g.gid},{s.ev},?,?,?)"
            )
            block_raw[s.id] = s.ev
    # Shared right edges: one block of result ids per stream, after the group ids.
    blocks: list[tuple[int, int, bool]] = []
    block_base: dict[int, int] = {}
    raw_ent_blk, raw_any_blk = [], []
    for sid, top in top_of.items():
        base = len(groups) + len(blocks) * (bk.LEVELS + 1)
        any_ = next(g.stream.any for g in groups.values() if g.stream.id == sid)
        blocks.append((sid, top, any_))
        block_base[sid] = base
        e = "0" if any_ else "?"
        rows = count_rows if stream_count_only[sid] else bucket_rows
        for lvl in range(top):
            rows.append(f"({base + lvl},{sid},{e},{lvl},?,?)")
        ev = block_raw[sid]
        if ev is not None:
            if any_:
                raw_any_blk.append(f"({base + bk.LEVELS},{ev},?,?)")
            else:
                raw_ent_blk.append(f"({base + bk.LEVELS},{ev},?,?,?)")
    raw_ent_rows += raw_ent_blk
    raw_any_rows += raw_any_blk
    # One join per kind of piece over a VALUES list of ranges: a single cursor seeks range after
    # range (cheaper than one sub-select per range, and no limit on the number of pieces).
    num_parts = []
    if bucket_rows:
        num_parts.append(
            f"SELECT r.column1 AS g, b.cnt AS c, b.sm AS s, b.mn AS lo, b.mx AS hi "
            f"FROM (VALUES {','.join(bucket_rows)}) AS r CROSS JOIN buckets AS b ON r.column5 <= r.column6 "
            f"AND b.stream = r.column2 "
            f"AND b.ent = r.column3 AND b.lvl = r.column4 AND b.b BETWEEN r.column5 AND r.column6"
        )
    if raw_ent_rows:
        num_parts.append(
            f"SELECT {_RAW_COLS} FROM (VALUES {','.join(raw_ent_rows)}) AS r "
            f"CROSS JOIN events AS e ON r.column4 < r.column5 AND e.ev = r.column2 AND e.ent = r.column3 "
            f"AND e.ts >= r.column4 "
            f"AND e.ts < r.column5"
        )
    if raw_any_rows:
        num_parts.append(
            f"SELECT {_RAW_COLS} FROM (VALUES {','.join(raw_any_rows)}) AS r "
            f"CROSS JOIN events AS e ON r.column3 < r.column4 AND e.ev = r.column2 AND e.ts >= r.column3 "
            f"AND e.ts < r.column4"
        )
    num_terms = []
    if num_parts:
        union = " UNION ALL ".join(num_parts)
        num_terms.append(f"SELECT g, sum(c), sum(s), min(lo), max(hi) FROM ({union}) GROUP BY g")
    if count_rows:  # a group may also have raw-edge rows above: the store merges both result rows
        num_terms.append(
            f"SELECT r.column1, sum(b.cnt), 0.0, 0.0, 0.0 FROM (VALUES {','.join(count_rows)}) AS r "
            f"CROSS JOIN buckets AS b ON r.column5 <= r.column6 AND b.stream = r.column2 "
            f"AND b.ent = r.column3 AND b.lvl = r.column4 AND b.b BETWEEN r.column5 AND r.column6 "
            f"GROUP BY r.column1"
        )
    num_sql = " UNION ALL ".join(num_terms) if num_terms else None
    dist_sql = _chunks(dist_parts)
    rows_sql = _chunks(rows_parts)
    # Everything in one compound statement (a single snapshot, no BEGIN/COMMIT round trips), as long
    # as it stays well under SQLite's limit of 500 terms in a compound SELECT.
    terms = ["SELECT -1, value, NULL, NULL, NULL FROM meta WHERE key = 'gen'"]
    terms += [num_sql] if num_sql else []
    terms += dist_parts + rows_parts
    single_sql = " UNION ALL ".join(terms) if len(terms) < 400 else None
    gl = list(groups.values())
    return Plan(
        spec,
        gl,
        slots,
        num_sql,
        rows_sql,
        dist_sql,
        slow,
        {g.gid: g for g in gl},
        single_sql,
        blocks,
        block_base,
        block_raw,
        stream_count_only,
    )


def _chunks(parts: list[str], size: int = 400) -> list[tuple[str, int]]:
    """UNION ALL the parts in chunks SQLite accepts (at most 500 terms per compound SELECT)."""
    out = []
    for i in range(0, len(parts), size):
        chunk = parts[i : i + size]
        out.append((" UNION ALL ".join(chunk), sum(p.count("?") for p in chunk)))
    return out
