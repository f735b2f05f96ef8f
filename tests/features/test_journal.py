"""The per-event journal (sync="journal"): recovery after a crash, torn records, exactly-once replay,
a full journal, forget() removing the bytes from the journal too, and the record framing itself."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from features_oracle import Ev, oracle_vector
from test_store import PAYLOAD, SECRET, file_bytes

from ember.features import Feature, FeatureSpec, FeatureStore, FeatureStoreError
from ember.features import journal as jn

HERE = Path(__file__).parent
SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
US = 1_000_000
NOW = 1_770_000_000.0
SPEC = FeatureSpec(
    "j",
    [
        Feature("n", event="e", agg="count", window="30d"),
        Feature("s", event="e", agg="sum", window="30d"),
        Feature("l", event="e", agg="last_n", n=3),
    ],
)


def journals(db: Path) -> list[Path]:
    d = db.with_name(db.name + "-journals")
    return sorted(d.iterdir()) if d.is_dir() else []


def events_in(db: Path) -> list[tuple[str, float]]:
    c = sqlite3.connect(db)
    rows = c.execute(
        "SELECT n.name, e.value FROM events e JOIN entities n ON n.id = e.ent ORDER BY e.seq"
    ).fetchall()
    c.close()
    return rows


def die_after_logging(db: Path, entity: str, count: int) -> list[int]:
    """A child process logs `count` events with sync="journal" and is SIGKILLed before any replay."""
    p = subprocess.run(
        [sys.executable, str(HERE / "features_child.py"), str(db), entity, "0", str(count), "journal-die"],
        capture_output=True,
        env=ENV,
        timeout=60,
    )
    assert p.returncode == -9, p.stderr.decode()[-2000:]
    return [int(x) for x in p.stdout.decode().split()]


def test_journal_mode_needs_event_durability(tmp_path):
    with pytest.raises(FeatureStoreError, match="durability='event'"):
        FeatureStore(tmp_path / "x.db", durability="batch", sync="journal")


def test_records_round_trip_and_framing_detects_damage():
    recs = [
        (1, ("click", "user:1", 5, 1.5, '{"a":1}')),
        (2, ("dwell", "ü", -(2**62), -0.0, None)),
        (3, ("e", "x" * 300, 2**62, 1e300, "")),
    ]
    data = b"".join(jn.encode(s, *r) for s, r in recs)
    got = jn.scan(data + bytes(100))
    assert got.records == recs and got.end == len(data) and not got.torn
    # a record cut short, one with a flipped bit, one out of sequence: each ends the scan there
    cut = jn.scan(data[:-3] + bytes(100))
    assert cut.records == recs[:2] and cut.torn
    flipped = bytearray(data)
    flipped[len(data) - 5] ^= 0x10
    assert jn.scan(bytes(flipped)).records == recs[:2]
    stale = data + jn.encode(2, "old", "user:9", 1, 1.0, None)  # an older record after the tail
    assert jn.scan(stale).records == recs


def test_journal_events_visible_to_own_reads_and_replayed_in_batches(tmp_path):
    db = tmp_path / "j.db"
    fs = FeatureStore(db, sync="journal", batch_size=50)
    fs.register(SPEC)
    for i in range(120):
        fs.log("e", "u", value=float(i), ts=NOW - 1000 + i)
    # 100 replayed (two batches of 50), 20 only in the journal so far
    assert len(events_in(db)) == 100
    assert [v for _, v in events_in(db)] == [float(i) for i in range(100)]
    np.testing.assert_array_equal(fs.vector(SPEC, "u", at=NOW), [120, sum(range(120)), 119, 118, 117])
    assert len(events_in(db)) == 120  # vector() replayed the rest first
    fs.close()
    assert journals(db) == []  # removed on close


def test_sigkill_then_recovery_on_open(tmp_path):
    db = tmp_path / "k.db"
    FeatureStore(db).close()
    acked = die_after_logging(db, "k", 40)
    assert acked == list(range(40))
    assert events_in(db) == []  # nothing replayed before the kill
    (j,) = journals(db)
    assert j.stat().st_size == jn.CAPACITY  # preallocated, never grown
    with FeatureStore(db, readonly=True) as ro:  # a read-only store reports the journal, never replays it
        (info,) = ro.stats()["journals"]
    assert info["events"] == 40 and info["bytes"] == jn.CAPACITY and not info["torn"]
    fs = FeatureStore(db)  # recovery
    assert journals(db) == []
    assert events_in(db) == [("k", float(i)) for i in range(40)]
    np.testing.assert_array_equal(
        fs.vector(SPEC, "k", at=NOW + 10), [40, sum(range(40)), 0, 1, 2]
    )  # buckets were maintained by the replay (the child logs event i at NOW - i/2)
    fs.close()
    c = sqlite3.connect(db)
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert c.execute("SELECT count(*) FROM meta WHERE key LIKE 'journal:%'").fetchone()[0] == 0
    c.close()
    assert FeatureStore(db, readonly=True).stats()["journals"] == []


@pytest.mark.parametrize("damage", ["torn-tail", "last-record-corrupt"])
def test_torn_record_is_discarded_and_the_rest_kept(tmp_path, caplog, damage):
    db = tmp_path / "t.db"
    FeatureStore(db).close()
    die_after_logging(db, "t", 25)
    (j,) = journals(db)
    data = bytearray(j.read_bytes())
    end = jn.scan(bytes(data)).end
    if damage == "torn-tail":
        # a 26th record whose write was cut by a power loss: header and half of its body
        rec = jn.encode(26, "e", "t", round(NOW * US), 999.0, None)
        data[end : end + len(rec) // 2] = rec[: len(rec) // 2]
        want = [float(i) for i in range(25)]
    else:
        data[end - 4] ^= 0xFF  # the last record's body no longer matches its CRC
        want = [float(i) for i in range(24)]
    j.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="ember.features"):
        FeatureStore(db).close()
    assert "torn or corrupt record" in caplog.text
    assert [v for _, v in events_in(db)] == want
    assert journals(db) == []


def test_replay_is_exactly_once_after_a_crash_between_commit_and_zeroing(tmp_path):
    db = tmp_path / "x.db"
    FeatureStore(db).close()
    j = jn.Journal(db)
    for seq in range(1, 11):
        j.append(jn.encode(seq, "e", "x", round(NOW * US) + seq, float(seq), None))
    c = sqlite3.connect(db)
    with c:  # records 1..6 were replayed (their events committed) just before the crash
        c.execute("INSERT INTO meta(key, value) VALUES (?, 6)", (j.meta_key,))
    c.close()
    j.abandon()
    FeatureStore(db).close()
    assert [v for _, v in events_in(db)] == [7.0, 8.0, 9.0, 10.0]


def test_a_live_journal_is_not_recovered_by_another_store(tmp_path):
    db = tmp_path / "live.db"
    a = FeatureStore(db, sync="journal")
    a.log("e", "a", value=1.0, ts=NOW)
    b = FeatureStore(db)  # its recovery must leave a's journal (locked) alone
    b.maintain()
    assert events_in(db) == [] and len(journals(db)) == 1
    a.close()
    assert events_in(db) == [("a", 1.0)]
    b.close()


def test_full_journal_and_oversized_record(tmp_path):
    db = tmp_path / "f.db"
    fs = FeatureStore(db, sync="journal", batch_size=10**9, journal_bytes=4096)
    fs.register(SPEC)
    oracle = []
    for i in range(300):  # ~60 bytes each: the 4 KiB journal fills and is replayed many times
        attrs = {"big": "z" * 9000} if i == 150 else {"i": i}  # larger than the whole journal
        fs.log("e", "u", value=float(i), ts=NOW - 300 + i, attrs=attrs)
        oracle.append(Ev(i, "e", "u", round((NOW - 300 + i) * US), float(i), attrs))
        assert journals(db)[0].stat().st_size == 4096  # replayed when full, never grown
    np.testing.assert_array_equal(
        fs.vector(SPEC, "u", at=NOW), oracle_vector(oracle, SPEC, "u", round(NOW * US))
    )
    fs.close()
    assert [v for _, v in events_in(db)] == [float(i) for i in range(300)]


def test_forget_removes_the_bytes_from_every_journal(tmp_path):
    db = tmp_path / "p.db"
    FeatureStore(db).close()
    secret = SECRET.decode()
    # a dead store's journal holding the secret entity's events (not yet replayed) ...
    dead = jn.Journal(db)
    for seq in range(1, 6):
        dead.append(jn.encode(seq, "e", secret, round(NOW * US) - seq, 1.0, f'{{"p":"{PAYLOAD.decode()}"}}'))
    dead.abandon()
    # ... and a live journal-mode store logging it too
    fs = FeatureStore(db, sync="journal", batch_size=10**9)
    fs.register(SPEC)
    assert events_in(db).count((secret, 1.0)) == 5  # the dead journal was recovered on open
    for i in range(40):
        ent = secret if i % 2 else "user:1"
        fs.log("e", ent, value=float(i), ts=NOW - i, attrs={"p": PAYLOAD.decode() if i % 2 else "plain"})
    assert SECRET in b"".join(j.read_bytes() for j in journals(db))  # the scan sees it in the journal
    rep = fs.forget(secret)
    assert rep.events == 25 and rep.wal_truncated
    data = file_bytes(db)
    assert SECRET not in data and PAYLOAD not in data
    np.testing.assert_array_equal(fs.vector(SPEC, "user:1", at=NOW + 1)[:1], [20])
    fs.log("e", secret, value=2.0, ts=NOW)  # logging again after forget starts afresh
    fs.forget_all()
    assert SECRET not in file_bytes(db)
    fs.close()
    assert journals(db) == []


def test_crash_while_closing_replays_nothing_twice(tmp_path, monkeypatch):
    """close() replays the journal, then removes it: dying in between leaves a journal whose
    records the replay mark says are in SQLite already."""
    db = tmp_path / "c.db"
    fs = FeatureStore(db, sync="journal", batch_size=10**9)
    for i in range(30):
        fs.log("e", "c", value=float(i), ts=NOW - i)

    def die(self):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt  # the process is interrupted right after the replay committed

    monkeypatch.setattr(jn.Journal, "close", die)
    with pytest.raises(KeyboardInterrupt):
        fs.close()
    monkeypatch.undo()
    assert len(journals(db)) == 1 and len(events_in(db)) == 30
    FeatureStore(db).close()  # recovery: the records are at or below the mark
    assert sorted(v for _, v in events_in(db)) == [float(i) for i in range(30)]
    assert journals(db) == []
