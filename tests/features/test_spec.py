import json

import pytest

from ember.errors import EmberError
from ember.features import Feature, FeatureSpec, FeatureSpecError
from ember.features.spec import beside_path, parse_window, to_micros


def issue_spec() -> FeatureSpec:
    return FeatureSpec(
        "ranker-v3",
        [
            Feature("clicks_7d", event="click", agg="count", window="7d"),
            Feature("dwell_mean_1h", event="dwell", agg="mean", window="1h"),
            Feature("last_query_len", event="query", agg="last"),
            Feature("distinct_items_1d", event="click", agg="count_distinct", key="entity", window="1d"),
        ],
    )


def test_windows_seconds_to_months():
    assert parse_window("90s") == 90_000_000
    assert parse_window("15m") == 15 * 60 * 10**6
    assert parse_window("1h") == 3600 * 10**6
    assert parse_window("7d") == 7 * 86400 * 10**6
    assert parse_window("2w") == 14 * 86400 * 10**6
    assert parse_window("3mo") == 90 * 86400 * 10**6
    assert parse_window(30) == 30 * 10**6
    assert parse_window(None) is None
    for bad in ("7x", "-1d", "0s", "d", True):
        with pytest.raises(FeatureSpecError, match="window"):
            parse_window(bad)


def test_to_micros_matches_numpy_rint():
    import numpy as np

    xs = np.array([0.0, 1.5e-6, 2.5e-6, 1_700_000_000.123456, -3.0000005, 1e-7], dtype=np.float64)
    assert [to_micros(x) for x in xs] == list(np.rint(xs * 1e6).astype(np.int64))


def test_normalization_and_defaults():
    f = Feature("x", event="e", agg="last-5")
    assert (f.agg, f.n, f.width, f.columns[:2]) == ("last_n", 5, 5, ["x[0]", "x[1]"])
    d = Feature("d", event="click", agg="count_distinct", key="entity", window="1d")
    assert d.scope == "any"  # distinct entities within one entity would always be 0 or 1
    assert Feature("c", event="e").scope == "entity"
    w = Feature("w", event="e", where={"b": [2, 1, 1], "a": "x"})
    assert w.where == (("a", "x"), ("b", (1, 2)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(agg="median"), "unknown aggregation"),
        (dict(agg="last_n"), "needs n"),
        (dict(agg="count", n=3), "only for last_n"),
        (dict(agg="count_distinct"), "needs key"),
        (dict(agg="count_distinct", key="color"), "unknown"),
        (dict(agg="count_distinct", key="entity", scope="entity"), "always 0 or 1"),
        (dict(agg="sum", key="value"), "only for count_distinct"),
        (dict(where={"a": None}), "string, number or bool"),
        (dict(where={"a": []}), "empty list"),
        (dict(scope="device"), "scope"),
        (dict(default=float("inf")), "finite"),
    ],
)
def test_bad_features_say_what_to_do(kwargs, match):
    with pytest.raises(FeatureSpecError, match=match) as ei:
        Feature("f", event="e", **kwargs)
    assert isinstance(ei.value, EmberError)


def test_spec_rejects_duplicates_and_empty():
    with pytest.raises(FeatureSpecError, match="twice"):
        FeatureSpec("s", [Feature("a", event="e"), Feature("a", event="f")])
    with pytest.raises(FeatureSpecError, match="no features"):
        FeatureSpec("s", [])


def test_json_roundtrip_is_canonical():
    spec = FeatureSpec(
        "s",
        [
            *issue_spec().features,
            Feature("l", event="e", agg="last_n", n=3, default=float("nan")),
            Feature("f", event="e", agg="sum", where={"surface": ["feed", "home"]}, window="3mo"),
        ],
        version=4,
    )
    data = spec.to_json()
    back = FeatureSpec.from_json(data)
    assert back.to_json() == data
    assert back.content_hash == spec.content_hash
    assert back.version == 4 and back.dim == spec.dim == 8
    assert json.loads(data)["format"] == "ember.features.spec"


def test_json_from_the_future_is_refused():
    d = json.loads(issue_spec().to_json())
    d["format_version"] = 99
    with pytest.raises(FeatureSpecError, match="upgrade Ember"):
        FeatureSpec.from_json(json.dumps(d))
    d = json.loads(issue_spec().to_json())
    d["features"][0]["decay"] = 0.5
    with pytest.raises(FeatureSpecError, match="unknown fields"):
        FeatureSpec.from_json(json.dumps(d))
    with pytest.raises(FeatureSpecError, match="not valid JSON"):
        FeatureSpec.from_json(b"{nope")


def test_beside_file_roundtrip_and_tamper(tmp_path):
    model = tmp_path / "model.ember"
    model.write_bytes(b"EMBER")
    spec = issue_spec()
    p = spec.save_beside(model)
    assert p == beside_path(model) and p.name == "model.ember.features.json"
    assert FeatureSpec.load_beside(model) == spec
    assert FeatureSpec.load_beside(p) == spec
    assert FeatureSpec.from_json(p.read_bytes()) == spec
    d = json.loads(p.read_text())
    d["spec"]["features"][0]["window"] = "30d"
    p.write_text(json.dumps(d))
    with pytest.raises(FeatureSpecError, match="edited or corrupted"):
        FeatureSpec.load_beside(model)
    with pytest.raises(FeatureSpecError, match="save_beside"):
        FeatureSpec.load_beside(tmp_path / "other.ember")
