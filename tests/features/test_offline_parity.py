"""Device vs offline (DuckDB): identical float32 values for the same events and query times."""

from __future__ import annotations

import json

import numpy as np
import pytest
from features_oracle import Ev, oracle_vector

from ember.features import Feature, FeatureSpec, FeatureStore, FeatureStoreError

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")
from ember.features import offline  # noqa: E402

US = 1_000_000
T0 = 1_760_000_000.0

SPEC = FeatureSpec(
    "parity",
    [
        Feature("clicks_7d", event="click", agg="count", window="7d"),
        Feature("clicks_90s", event="click", agg="count", window="90s"),
        Feature("dwell_mean_1h", event="dwell", agg="mean", window="1h", default=-1.0),
        Feature("dwell_sum_3mo", event="dwell", agg="sum", window="3mo"),
        Feature("dwell_min_1d", event="dwell", agg="min", window="1d", default=float("nan")),
        Feature("dwell_max_1d", event="dwell", agg="max", window="1d"),
        Feature("last_query_len", event="query", agg="last"),
        Feature("last_queries", event="query", agg="last-4", window="2d", default=-1.0),
        Feature("distinct_items_1d", event="click", agg="count_distinct", key="entity", window="1d"),
        Feature("distinct_surfaces", event="click", agg="count_distinct", key="attrs.surface", window="7d"),
        Feature("distinct_dwell", event="dwell", agg="count_distinct", key="value", window="15m"),
        Feature("feed_clicks_1d", event="click", where={"surface": "feed"}, window="1d"),
        Feature(
            "feed_or_home_any", event="click", where={"surface": ["feed", "home"]}, window="4h", scope="any"
        ),
        Feature("last_feed_dwell", event="dwell", agg="last_n", n=2, where={"surface": "feed"}, default=3.0),
        Feature("all_dwell_any", event="dwell", agg="sum", scope="any"),
    ],
)


def random_events(rng: np.random.Generator, n: int) -> pd.DataFrame:
    entities = [f"user:{i}" for i in range(4)] + [f"item:{i}" for i in range(6)]
    surfaces = [None, "feed", "home", "search"]
    ts = T0 + rng.uniform(-40 * 86400, 0, n).round(6)
    ts[: n // 10] = T0 - rng.integers(0, 3, n // 10) * 60.0  # exact minute boundaries and duplicates
    rows = []
    for i in range(n):
        s = surfaces[rng.integers(0, 4)]
        rows.append(
            {
                "event": ["click", "dwell", "query"][rng.integers(0, 3)],
                "entity": entities[rng.integers(0, len(entities))],
                "ts": float(ts[i]),
                "value": float(rng.integers(-64, 64)) / 8,
                "attrs": {"surface": s} if s else None,
            }
        )
    return pd.DataFrame(rows)  # in logging order, not time order


def queries_for(rng: np.random.Generator, n: int) -> pd.DataFrame:
    ents = [f"user:{i}" for i in range(4)] + ["item:1", "nobody"]
    at = T0 - rng.uniform(0, 30 * 86400, n).round(6)
    at[:6] = [T0, T0 - 60.0, T0 - 86400.0, T0 + 1.0, T0 - 7 * 86400, T0 - 120.0]
    return pd.DataFrame({"entity": [ents[rng.integers(0, len(ents))] for _ in range(n)], "at": at})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    rng = np.random.default_rng(7)
    events = random_events(rng, 3000)
    path = tmp_path_factory.mktemp("parity") / "f.db"
    fs = FeatureStore(path, durability="batch", sync="normal")
    fs.register(SPEC)
    for r in events.itertuples():
        fs.log(r.event, entity=r.entity, value=r.value, ts=r.ts, attrs=r.attrs)
    fs.flush()
    q = queries_for(rng, 120)
    device = np.stack([fs.vector(SPEC, e, at=a) for e, a in zip(q["entity"], q["at"], strict=False)])
    yield fs, events, q, device
    fs.close()


def test_offline_equals_device_from_app_frame(world):
    fs, events, q, device = world
    off = offline.vectors(SPEC, events, q)  # the app's own log: ts in float seconds, no seq
    assert off.dtype == np.float32 and off.shape == device.shape
    np.testing.assert_array_equal(off, device)


def test_offline_equals_device_from_exported_parquet(world, tmp_path):
    fs, events, q, device = world
    p = tmp_path / "events.parquet"
    fs.to_pandas().to_parquet(p)
    np.testing.assert_array_equal(offline.vectors(SPEC, p, q), device)
    frame = offline.compute_features(SPEC, p, q)
    assert list(frame.columns) == ["entity", "at", *SPEC.columns]
    np.testing.assert_array_equal(frame[SPEC.columns].to_numpy(), device)


def test_device_equals_oracle_on_same_world(world):
    _, events, q, device = world
    evs = [
        Ev(i, r.event, r.entity, round(r.ts * US), r.value, r.attrs)
        for i, r in enumerate(events.itertuples())
    ]
    for i, (e, a) in enumerate(zip(q["entity"], q["at"], strict=False)):
        np.testing.assert_array_equal(device[i], oracle_vector(evs, SPEC, e, round(a * US)))


def test_point_in_time_no_leakage():
    """A label-time query must not see events logged after it, however close."""
    events = pd.DataFrame(
        {
            "event": ["click"] * 3,
            "entity": ["u"] * 3,
            "ts": [100.0, 200.0, 200.000001],
            "value": [1.0, 2.0, 4.0],
        }
    )
    spec = FeatureSpec(
        "pit", [Feature("s", event="click", agg="sum"), Feature("l", event="click", agg="last")]
    )
    q = pd.DataFrame({"entity": ["u", "u", "u", "u"], "at": [99.999999, 100.0, 200.0, 200.000001]})
    np.testing.assert_array_equal(offline.vectors(spec, events, q), [[0, 0], [1, 1], [3, 2], [7, 4]])


def test_datetime_columns_and_json_attrs():
    ts = pd.to_datetime([1_700_000_000.5, 1_700_000_010.25], unit="s", utc=True)
    events = pd.DataFrame(
        {
            "event": ["e", "e"],
            "entity": ["u", "u"],
            "ts": ts,
            "value": [1.0, 2.0],
            "attrs": [json.dumps({"a": "x"}), None],
        }
    )
    spec = FeatureSpec("dt", [Feature("c", event="e", where={"a": "x"}), Feature("n", event="e")])
    q = pd.DataFrame({"entity": ["u"], "at": pd.to_datetime([1_700_000_011], unit="s", utc=True)})
    np.testing.assert_array_equal(offline.vectors(spec, events, q), [[1.0, 2.0]])


def test_missing_columns_say_what_to_do():
    with pytest.raises(FeatureStoreError, match="missing columns"):
        offline.vectors(SPEC, pd.DataFrame({"event": []}), pd.DataFrame({"entity": [], "at": []}))
