"""FeatureStore behaviour: the issue's example, schema versions, durability modes, retention, budget,
privacy (file bytes scanned for a forgotten marker), served-vector logging, read-only use."""

from __future__ import annotations

import hashlib
import sqlite3
import warnings

import numpy as np
import pytest
from features_oracle import Ev, oracle_vector

from ember.errors import EmberError
from ember.features import (
    Feature,
    FeatureSpec,
    FeatureSpecError,
    FeatureStore,
    FeatureStoreError,
    SchemaVersionError,
)
from ember.features import schema as sch

US = 1_000_000
DAY = 86_400.0
NOW = 1_770_000_000.0


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


def test_issue_example_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fs = FeatureStore("features.db")
    fs.log("click", entity="item:42", value=1.0, ts=None, attrs={"surface": "feed"})
    fs.log("click", entity="user:1", value=1.0, attrs={"surface": "feed"})
    fs.log("dwell", entity="user:1", value=2.0)
    fs.log("dwell", entity="user:1", value=3.0)
    fs.log("query", entity="user:1", value=11.0)
    spec = issue_spec()
    x = fs.vector(spec, entity="user:1", at=None)
    assert x.dtype == np.float32 and x.shape == (4,)
    np.testing.assert_array_equal(x, [1.0, 2.5, 11.0, 2.0])
    np.testing.assert_array_equal(fs.vector(spec, entity="user:9"), [0.0, 0.0, 0.0, 2.0])  # defaults
    mode = sqlite3.connect("features.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    fs.close()


def test_bad_log_arguments_are_ember_errors(tmp_path):
    fs = FeatureStore(tmp_path / "f.db")
    for kwargs, match in [
        (dict(event="", entity="u"), "event"),
        (dict(event="e", entity=""), "entity"),
        (dict(event="e", entity="u", value="3"), "number"),
        (dict(event="e", entity="u", value=float("nan")), "finite"),
        (dict(event="e", entity="u", ts="yesterday"), "seconds"),
        (dict(event="e", entity="u", attrs={"x": object()}), "JSON"),
        (dict(event="e", entity="u", attrs={1: "x"}), "string keys"),
    ]:
        with pytest.raises(FeatureStoreError, match=match) as ei:
            fs.log(**kwargs)
        assert isinstance(ei.value, EmberError)
    fs.close()


# -- schema versions ------------------------------------------------------------------------------
def digest(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_new_file_has_version_and_application_id(tmp_path):
    FeatureStore(tmp_path / "f.db").close()
    c = sqlite3.connect(tmp_path / "f.db")
    assert c.execute("PRAGMA user_version").fetchone()[0] == sch.SCHEMA_VERSION
    assert c.execute("PRAGMA application_id").fetchone()[0] == sch.APPLICATION_ID
    assert c.execute("PRAGMA page_size").fetchone()[0] == sch.PAGE_SIZE


def test_migrates_version_1_file_keeping_data(tmp_path):
    """A v1 file (as the first release wrote it) is migrated step by step: v2 adds served vectors,
    v3 adds the latest-occurrence table of count_distinct streams, filled from the raw events, v4
    clusters the events, v5 drops the per-minute distinct-key buckets."""
    p = tmp_path / "v1.db"
    c = sqlite3.connect(p, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    for stmt in sch._statements(sch.MIGRATIONS[0]):
        c.execute(stmt)
    c.execute(f"PRAGMA application_id = {sch.APPLICATION_ID}")
    c.execute("PRAGMA user_version = 1")
    c.execute("INSERT INTO event_types(name) VALUES ('click')")
    c.execute("INSERT INTO entities(name) VALUES ('u')")
    c.execute("INSERT INTO streams(ev, filter, scope, dkey) VALUES (1, '', 'entity', 'attrs.k')")
    for i, k in enumerate(["a", "b", "a"]):
        c.execute(
            "INSERT INTO events(ev, ent, ts, value, attrs) VALUES (1, 1, ?, 2.0, ?)",
            (int(NOW * US) - i, f'{{"k":"{k}"}}'),
        )
    c.close()
    with pytest.raises(SchemaVersionError, match="older"):
        FeatureStore(p, readonly=True)
    fs = FeatureStore(p)
    spec = FeatureSpec(
        "m",
        [
            Feature("s", event="click", agg="sum", window="1d"),
            Feature("d", event="click", agg="count_distinct", key="attrs.k", window="1d"),
        ],
    )
    np.testing.assert_array_equal(fs.vector(spec, "u", at=NOW), [6.0, 2.0])
    fs.vector(spec, "u", at=NOW, record=True)  # the table added by the v2 migration works
    assert len(fs.served()) == 1
    fs.close()
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == sch.SCHEMA_VERSION == 5


def test_newer_schema_is_refused_and_file_untouched(tmp_path):
    p = tmp_path / "future.db"
    fs = FeatureStore(p)
    fs.log("click", "u", ts=NOW)
    fs.close()
    c = sqlite3.connect(p)
    c.execute("PRAGMA user_version = 99")
    c.commit()
    c.close()
    before = digest(p)
    for kw in ({}, {"readonly": True}):
        with pytest.raises(SchemaVersionError, match=r"version 99.*not changed.*upgrade Ember"):
            FeatureStore(p, **kw)
    assert digest(p) == before


def test_foreign_files_are_refused_untouched(tmp_path):
    other = tmp_path / "app.db"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE users(id)")
    c.commit()
    c.close()
    before = digest(other)
    with pytest.raises(SchemaVersionError, match="not an Ember feature store"):
        FeatureStore(other)
    assert digest(other) == before
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(FeatureStoreError, match="not a SQLite database"):
        FeatureStore(junk)
    assert junk.read_bytes() == b"not a database at all" * 100


# -- durability modes -----------------------------------------------------------------------------
def test_batch_mode_buffers_until_flush(tmp_path):
    p = tmp_path / "b.db"
    spec = FeatureSpec("c", [Feature("n", event="e", window="1d")])
    w = FeatureStore(p, durability="batch", batch_size=1000)
    r = FeatureStore(p)
    for i in range(10):
        w.log("e", "u", ts=NOW - i)
    np.testing.assert_array_equal(r.vector(spec, "u", at=NOW), [0.0])  # not committed yet
    assert w.flush() == 10
    np.testing.assert_array_equal(r.vector(spec, "u", at=NOW), [10.0])
    w.log("e", "u", ts=NOW)
    np.testing.assert_array_equal(w.vector(spec, "u", at=NOW), [11.0])  # vector() reads its own writes
    w.close()
    r.close()


def test_per_event_mode_is_visible_at_once(tmp_path):
    p = tmp_path / "e.db"
    spec = FeatureSpec("c", [Feature("n", event="e", window="1d")])
    w = FeatureStore(p, durability="event")
    r = FeatureStore(p)
    w.log("e", "u", ts=NOW)
    np.testing.assert_array_equal(r.vector(spec, "u", at=NOW), [1.0])
    w.close()
    r.close()


def test_changed_spec_needs_new_version(tmp_path):
    fs = FeatureStore(tmp_path / "f.db")
    fs.register(FeatureSpec("s", [Feature("a", event="e", window="1h")]))
    with pytest.raises(FeatureSpecError, match="new version"):
        fs.register(FeatureSpec("s", [Feature("a", event="e", window="2h")]))
    fs.register(FeatureSpec("s", [Feature("a", event="e", window="2h")], version=2))
    assert [s.version for s in fs.specs()] == [1, 2]
    fs.close()


# -- retention and budget -------------------------------------------------------------------------
def log_days(fs: FeatureStore, days: int, per_day: int, entities=("u1", "u2")) -> list[Ev]:
    evs = []
    rng = np.random.default_rng(1)
    for d in range(days):
        for j in range(per_day):
            ts = NOW - d * DAY - float(rng.integers(0, 86_400_000_000)) / US
            ent = entities[j % len(entities)]
            name = ("click", "query", "misc")[j % 3]
            v = float(j % 7)
            fs.log(name, ent, value=v, ts=ts)
            evs.append(Ev(len(evs), name, ent, round(ts * US), v))
    fs.flush()
    return evs


def test_retention_removes_what_no_spec_can_see(tmp_path):
    spec = FeatureSpec(
        "r",
        [
            Feature("c2d", event="click", window="2d"),
            Feature("s7d", event="click", agg="sum", window="7d"),
            Feature("last2", event="query", agg="last_n", n=2),  # unbounded: keep the latest 2 per entity
        ],
    )
    fs = FeatureStore(tmp_path / "r.db", durability="batch", retention_margin="1d", maintenance_every=0)
    fs.register(spec)
    evs = log_days(fs, 20, 30)
    before = [fs.vector(spec, e, at=NOW) for e in ("u1", "u2")]
    reports = fs.maintain(now=NOW)
    assert {r.event for r in reports} == {"click", "query", "misc"}
    st = {p["event"]: p for p in fs.stats()["per_event"]}
    assert st["click"]["first"] >= NOW - 9 * DAY  # 7d window + 1d margin, day-aligned
    assert st["misc"]["first"] >= NOW - 9 * DAY  # no spec reads it: longest window + margin
    assert st["query"]["events"] < 200  # older queries gone except the latest 2 per entity
    after = [fs.vector(spec, e, at=NOW) for e in ("u1", "u2")]
    for b, a, e in zip(before, after, ("u1", "u2"), strict=False):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, oracle_vector(evs, spec, e, round(NOW * US)))
    assert fs.maintain(now=NOW) == []  # idempotent
    fs.close()


def test_nothing_is_removed_before_a_spec_is_registered(tmp_path):
    fs = FeatureStore(tmp_path / "n.db", durability="batch", maintenance_every=0)
    log_days(fs, 30, 5)
    assert fs.maintain(now=NOW) == []
    assert fs.stats()["events"] == 150
    fs.close()


def test_byte_budget_evicts_oldest_first_and_reports(tmp_path, caplog):
    spec = FeatureSpec(
        "b", [Feature("c", event="click", window="3mo"), Feature("q", event="query", agg="sum")]
    )
    fs = FeatureStore(tmp_path / "b.db", durability="batch", maintenance_every=0, max_bytes=400_000)
    fs.register(spec)
    evs = log_days(fs, 60, 200)
    assert fs.used_bytes() > 400_000
    with caplog.at_level("WARNING", logger="ember.features"):
        reports = fs.maintain(now=NOW)
    assert reports and all(r.reason == "budget" for r in reports)
    assert "over budget" in caplog.text
    assert fs.used_bytes() <= 400_000
    cutoffs = [r.cutoff for r in reports]
    assert cutoffs == sorted(cutoffs)  # oldest first
    assert sum(r.events for r in reports) > 0
    first = min(p["first"] for p in fs.stats()["per_event"] if p["first"] is not None)
    assert first >= cutoffs[-1]
    kept = [e for e in evs if e.ts >= round(cutoffs[-1] * US)]
    for ent in ("u1", "u2"):
        np.testing.assert_array_equal(
            fs.vector(spec, ent, at=NOW), oracle_vector(kept, spec, ent, round(NOW * US))
        )
    assert fs.stats()["evictions"][0]["reason"] == "budget"
    fs.close()


# -- privacy ---------------------------------------------------------------------------------------
SECRET = b"SECRET-ENTITY-7f3a"
PAYLOAD = b"MARKER-PAYLOAD-91c2"


def file_bytes(p) -> bytes:
    """The database, its WAL and shared memory, and every per-event journal of the store."""
    out = b""
    for suffix in ("", "-wal", "-shm"):
        q = p.with_name(p.name + suffix)
        if q.exists():
            out += q.read_bytes()
    journals = p.with_name(p.name + "-journals")
    if journals.is_dir():
        for q in sorted(journals.iterdir()):
            out += q.read_bytes()
    return out


def test_forget_removes_marker_from_file_and_wal(tmp_path):
    p = tmp_path / "priv.db"
    spec = FeatureSpec(
        "p",
        [
            Feature("n", event="click", window="1d", scope="any"),
            Feature("d", event="click", agg="count_distinct", key="entity", window="1d"),
            Feature("m", event="click", agg="max", window="1d", scope="any"),
        ],
    )
    fs = FeatureStore(p, serve_sample_rate=1.0)
    fs.register(spec)
    secret = SECRET.decode()
    evs = []
    for i in range(300):
        ent = secret if i % 3 == 0 else f"user:{i % 5}"
        attrs = {"note": PAYLOAD.decode()} if ent == secret else {"note": "plain"}
        v = 100.0 if ent == secret else float(i % 4)
        fs.log("click", ent, value=v, ts=NOW - i * 7.0, attrs=attrs)
        if ent != secret:
            evs.append(Ev(i, "click", ent, round((NOW - i * 7.0) * US), v, attrs))
    fs.vector(spec, secret, at=NOW)  # a served vector naming the entity
    data = file_bytes(p)
    assert SECRET in data and PAYLOAD in data  # the scan can see it before
    rep = fs.forget(secret)
    assert rep.events == 100 and rep.served == 1 and rep.wal_truncated
    data = file_bytes(p)
    assert SECRET not in data and PAYLOAD not in data
    # the all-entity buckets were rebuilt without the forgotten events: max is no longer 100
    np.testing.assert_array_equal(
        fs.vector(spec, "user:1", at=NOW, record=False), oracle_vector(evs, spec, "user:1", round(NOW * US))
    )
    fs.close()
    assert SECRET not in file_bytes(p)


def test_forget_all_leaves_no_marker(tmp_path):
    p = tmp_path / "all.db"
    fs = FeatureStore(p, durability="batch")
    spec = FeatureSpec("a", [Feature("n", event="e", window="1d")])
    fs.register(spec)
    for i in range(2000):
        fs.log("e", f"{SECRET.decode()}-{i % 3}", ts=NOW - i, attrs={"p": PAYLOAD.decode()})
    fs.flush()
    assert SECRET in file_bytes(p)
    rep = fs.forget_all()
    assert rep.events == 2000 and rep.wal_truncated
    data = file_bytes(p)
    assert SECRET not in data and PAYLOAD not in data
    np.testing.assert_array_equal(fs.vector(spec, f"{SECRET.decode()}-1", at=NOW), [0.0])
    assert fs.specs()[0].name == "a"  # specs are not personal data: they stay
    fs.close()


# -- served vectors --------------------------------------------------------------------------------
def test_served_vectors_are_sampled_and_recorded(tmp_path):
    spec = FeatureSpec("s", [Feature("n", event="e", window="1d"), Feature("l", event="e", agg="last")])
    fs = FeatureStore(tmp_path / "s.db", serve_sample_rate=0.25, seed=3)
    fs.log("e", "u", value=5.0, ts=NOW)
    got = [fs.vector(spec, "u", at=NOW + i) for i in range(400)]
    rec = fs.served("s")
    assert 60 <= len(rec) <= 140
    assert all(r.spec == "s" and r.spec_hash == spec.content_hash and r.entity == "u" for r in rec)
    np.testing.assert_array_equal(rec[0].vector, got[0])
    n = len(rec)
    fs.vector(spec, "u", at=NOW, record=False)
    fs.vector(spec, "u", at=NOW, record=True)
    assert len(fs.served()) == n + 1
    fs.close()
    quiet = FeatureStore(tmp_path / "q.db")
    quiet.vector(spec, "u")
    assert quiet.served() == []
    quiet.close()


def test_readonly_store_reads_but_never_writes(tmp_path):
    p = tmp_path / "ro.db"
    spec = FeatureSpec("s", [Feature("n", event="e", window="1d")])
    with FeatureStore(p) as fs:
        fs.register(spec)
        fs.log("e", "u", ts=NOW)
    before = digest(p)
    with FeatureStore(p, readonly=True) as ro:
        np.testing.assert_array_equal(ro.vector(spec, "u", at=NOW), [1.0])
        with pytest.raises(FeatureStoreError, match="readonly"):
            ro.log("e", "u")
        with pytest.raises(FeatureStoreError, match="not registered"):
            ro.vector(FeatureSpec("other", [Feature("x", event="zzz")]), "u")
    assert digest(p) == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FeatureStoreError, match="closed"):
            fs.log("e", "u")


def test_other_connection_sees_forget_and_new_streams(tmp_path):
    """Caches (entity ids, streams, horizons) follow changes made through another connection."""
    p = tmp_path / "two.db"
    a, b = FeatureStore(p), FeatureStore(p)
    spec = FeatureSpec(
        "t",
        [
            Feature("n", event="e", window="1d"),
            Feature("d", event="e", agg="count_distinct", key="value", window="1d"),
        ],
    )
    for i in range(5):
        a.log("e", "x", value=float(i), ts=NOW - i)
    np.testing.assert_array_equal(b.vector(spec, "x", at=NOW), [5.0, 5.0])
    a.forget("x")
    np.testing.assert_array_equal(b.vector(spec, "x", at=NOW), [0.0, 0.0])
    a.log("e", "x", value=9.0, ts=NOW)
    np.testing.assert_array_equal(b.vector(spec, "x", at=NOW), [1.0, 1.0])
    spec2 = FeatureSpec("t2", [Feature("f", event="e", where={"k": 1}, window="1d")])
    a.register(spec2)  # a new stream, registered by the other connection
    b.log("e", "x", value=1.0, ts=NOW, attrs={"k": 1})  # b must maintain its buckets
    np.testing.assert_array_equal(a.vector(spec2, "x", at=NOW + 3600), [1.0])
    a.close()
    b.close()


def test_a_spec_larger_than_one_sqlite_compound_select(tmp_path):
    """600 filtered features: more terms than SQLite allows in one compound SELECT (500)."""
    fs = FeatureStore(tmp_path / "big.db", durability="batch")
    spec = FeatureSpec("wide", [Feature(f"f{i}", event="e", where={"k": i}, window="1h") for i in range(600)])
    for i in range(0, 600, 7):
        fs.log("e", "u", ts=NOW - i, attrs={"k": i})
    want = [1.0 if i % 7 == 0 else 0.0 for i in range(600)]
    np.testing.assert_array_equal(fs.vector(spec, "u", at=NOW), want)
    fs.close()
