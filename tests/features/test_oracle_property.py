"""Device vectors against the brute-force oracle on random event streams (hypothesis).

Timestamps are drawn to land on window edges (at - w, at - w ± 1 µs, at, at + 1 µs) and on bucket
boundaries of every level, in random order with duplicates; values are on a dyadic grid so sums
are exact in any order, and the comparison is bit-for-bit.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from features_oracle import Ev, oracle_vector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ember.features import Feature, FeatureSpec, FeatureStore
from ember.features.buckets import GRANULARITIES, decompose, right_raw, right_runs, split

US = 1_000_000
DAY = 86_400 * US
T0 = 1_750_000_000 * US
WINDOWS = ["90s", "1h", "25h", "7d", "3w"]
ATTRS = [
    None,
    {"s": "feed"},
    {"s": "search"},
    {"s": "feed", "k": 3},
    {"k": 3},
    {"k": "3"},
    {"k": 4.0},
    {"k": True},
    {"s": ["feed"]},
]
ENTITIES = ["u1", "u2", "i:9"]


def make_spec(w1: str, w2: str) -> FeatureSpec:
    return FeatureSpec(
        "prop",
        [
            Feature("cnt", event="a", agg="count", window=w1),
            Feature("sum", event="a", agg="sum", window=w1),
            Feature("mean", event="a", agg="mean", window=w2, default=-7.0),
            Feature("min", event="a", agg="min", window=w2, default=99.0),
            Feature("max", event="b", agg="max", window=w1),
            Feature("last", event="b", agg="last", default=-1.0),
            Feature("last3", event="a", agg="last_n", n=3, window=w2, default=-2.0),
            Feature("dist_ent", event="a", agg="count_distinct", key="entity", window=w1),
            Feature("dist_val", event="b", agg="count_distinct", key="value", window=w2),
            Feature("dist_attr", event="a", agg="count_distinct", key="attrs.s", window=w2, scope="any"),
            Feature("feed_sum", event="a", agg="sum", where={"s": "feed"}, window=w1),
            Feature("k3_cnt_any", event="b", agg="count", where={"k": [3, 4]}, window=w2, scope="any"),
            Feature("feed_last2", event="a", agg="last_n", n=2, where={"s": "feed"}, default=5.0),
            Feature("all_time_max", event="a", agg="max", scope="any"),
            # count-only groups (their buckets are read by a join of their own), alone on a stream or
            # beside other aggregations of the same stream
            Feature("b_cnt", event="b", agg="count", window=w2),
            Feature("a_cnt_any", event="a", agg="count", window=w1, scope="any"),
            Feature("b_cnt_any", event="b", agg="count", window=w1, scope="any"),
        ],
    )


@st.composite
def scenario(draw):
    w1 = draw(st.sampled_from(WINDOWS))
    w2 = draw(st.sampled_from(WINDOWS))
    spec = make_spec(w1, w2)
    at = T0 + draw(st.integers(0, 7 * DAY))
    edges = [0, 1, -1]
    for f in spec.features:
        if f.window_us:
            edges += [-f.window_us, -f.window_us + 1, -f.window_us - 1]
    for g in GRANULARITIES:
        for base in (at, at - spec.features[0].window_us):
            edges += [(base // g) * g - at, (base // g) * g - at - 1, (base // g + 1) * g - at]
    offset = st.one_of(
        st.sampled_from(edges),
        st.integers(-25 * DAY, 2 * 60 * US),
        st.integers(-3 * 60 * US, 3 * 60 * US),
    )
    ev = st.tuples(
        st.sampled_from(["a", "b"]),
        st.sampled_from(ENTITIES),
        offset,
        st.integers(-16, 16).map(lambda v: v / 4),
        st.sampled_from(range(len(ATTRS))),
    )
    events = draw(st.lists(ev, max_size=60))
    if events and draw(st.booleans()):  # exact duplicates
        events += draw(st.lists(st.sampled_from(events), max_size=10))
    queries = draw(st.lists(st.sampled_from(edges + [-DAY, -3 * DAY]), min_size=1, max_size=4))
    register_first = draw(st.booleans())
    return spec, at, events, queries, register_first


def run_scenario(tmp: Path, spec, at, events, queries, register_first, durability="batch", sync="normal"):  # noqa: ANN001
    # journal_bytes=4096: the journal (sync="journal") fills and is replayed mid-stream too
    fs = FeatureStore(tmp / "p.db", durability=durability, sync=sync, batch_size=7, journal_bytes=4096)
    if register_first:  # buckets maintained on write; otherwise built by backfill at first vector()
        fs.register(spec)
    oracle = []
    for i, (e, ent, off, v, ai) in enumerate(events):
        ts = at + off
        fs.log(e, entity=ent, value=v, ts=ts / US, attrs=ATTRS[ai])
        oracle.append(Ev(i, e, ent, ts, v, ATTRS[ai]))
    for q in queries:
        for ent in ENTITIES + ["nobody"]:
            got = fs.vector(spec, entity=ent, at=(at + q) / US)
            want = oracle_vector(oracle, spec, ent, at + q)
            assert got.dtype == np.float32 and got.shape == (spec.dim,)
            np.testing.assert_array_equal(got, want, err_msg=f"entity={ent} at={at + q} cols={spec.columns}")
    fs.close()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_device_matches_oracle(sc):
    with tempfile.TemporaryDirectory() as d:
        run_scenario(Path(d), *sc)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_device_matches_oracle_per_event_durability(sc):
    with tempfile.TemporaryDirectory() as d:
        run_scenario(Path(d), *sc, durability="event")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_device_matches_oracle_journal_durability(sc):
    with tempfile.TemporaryDirectory() as d:
        run_scenario(Path(d), *sc, durability="event", sync="journal")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-5 * 60, 5 * 60).map(float), min_size=1, max_size=40), st.integers(0, 10**6))
def test_clock_going_backwards(steps, start):
    """ts=None takes the store's clock; a clock that jumps back must not confuse windows or `last`."""
    spec = FeatureSpec(
        "clock",
        [
            Feature("c", event="a", window="2m"),
            Feature("l", event="a", agg="last_n", n=2, default=-1.0),
            Feature("m", event="a", agg="max", window="10m", default=-1.0),
        ],
    )
    now = [1_700_000_000.0 + start]
    times = []
    for s in steps:
        now[0] += s  # may go backwards
        times.append(now[0])
    with tempfile.TemporaryDirectory() as d:
        fs = FeatureStore(Path(d) / "c.db", durability="batch", clock=lambda: now[0])
        oracle = []
        for i, t in enumerate(times):
            now[0] = t
            fs.log("a", entity="u", value=float(i))
            oracle.append(Ev(i, "a", "u", round(t * US), float(i)))
        for t in sorted(set(times))[-3:] + [times[-1]]:
            now[0] = t  # vector(at=None) reads the clock too
            np.testing.assert_array_equal(
                fs.vector(spec, "u"), oracle_vector(oracle, spec, "u", round(t * US))
            )
        fs.close()


@given(st.integers(-(2**50), 2**50), st.integers(0, 200 * DAY))
@settings(max_examples=500, deadline=None)
def test_decompose_covers_window_exactly(a, width):
    b = a + width
    p = decompose(a, b)
    pieces = list(p.raw) + [
        (lo * GRANULARITIES[lvl], (hi + 1) * GRANULARITIES[lvl]) for lvl, lo, hi in p.runs if lo <= hi
    ]
    pieces.sort()
    covered = a
    for lo, hi in pieces:
        assert lo == covered and hi > lo  # disjoint, gap-free, in order
        covered = hi
    assert covered == b or (width == 0 and not pieces)
    assert sum(1 for _ in p.raw) <= 2
    assert all(hi - lo < 60 * US for lo, hi in p.raw) or len(p.raw) == 1
    buckets = sum(hi - lo + 1 for _, lo, hi in p.runs)
    assert buckets <= 2 * (14 + 15 + 5 + 6) + width // GRANULARITIES[-1] + 1


@given(st.integers(-(2**50), 2**50), st.integers(1, 200 * DAY))
@settings(max_examples=500, deadline=None)
def test_split_is_decompose_with_a_shared_right_edge(b, width):
    """Windows ending at b share right_runs(b)[:k] and right_raw(b); the rest is their own."""
    a = b - width
    p = decompose(a, b)
    s = split(a, b)
    got = set(s.own_raw) | {("run", *r) for r in s.left}
    if s.middle:
        got.add(("run", *s.middle))
    got |= {("run", *r) for r in right_runs(b)[: s.k] if r[1] <= r[2]}
    if s.right_raw:
        got.add(right_raw(b))
    assert got == set(p.raw) | {("run", *r) for r in p.runs}
    assert all(r[0] < s.middle[0] for r in s.left) and len({r[0] for r in s.left}) == len(s.left)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.integers(0, 40 * DAY), st.sampled_from(["1h", "1d", "3d"]))
def test_retention_and_budget_never_change_what_is_served_now(sc, later, margin):
    """After maintain(now), vectors at now and later still equal the oracle over all events ever
    logged (retention only drops what no registered window can reach); after a byte-budget
    eviction they equal the oracle over the events kept."""
    spec, at, events, _, _ = sc
    with tempfile.TemporaryDirectory() as d:
        fs = FeatureStore(Path(d) / "r.db", durability="batch", retention_margin=margin, maintenance_every=0)
        fs.register(spec)
        oracle = []
        for i, (e, ent, off, v, ai) in enumerate(events):
            fs.log(e, entity=ent, value=v, ts=(at + off) / US, attrs=ATTRS[ai])
            oracle.append(Ev(i, e, ent, at + off, v, ATTRS[ai]))
        now = at + later
        fs.maintain(now=now / US)
        for ent in ENTITIES:
            for q in (now, now + 60 * US):
                np.testing.assert_array_equal(
                    fs.vector(spec, ent, at=q / US), oracle_vector(oracle, spec, ent, q)
                )
        fs._max_bytes = fs.used_bytes() - 1  # just over budget: evict the oldest day(s) only
        reports = fs.maintain(now=now / US)
        cutoff = round(reports[-1].cutoff * US) if reports else None
        kept = [e for e in oracle if cutoff is None or e.ts >= cutoff]
        for ent in ENTITIES:
            np.testing.assert_array_equal(
                fs.vector(spec, ent, at=now / US), oracle_vector(kept, spec, ent, now)
            )
        fs.close()
