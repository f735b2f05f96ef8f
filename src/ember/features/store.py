"""FeatureStore: log events on the device, read feature vectors for a model.

Only the standard library's sqlite3 and numpy are needed here. See docs/features.md for the
storage layout, the bucket scheme (`ember.features.buckets`) and the durability modes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ember.features import buckets as bk
from ember.features.accumulate import Accumulator
from ember.features.errors import FeatureSpecError, FeatureStoreError
from ember.features.journal import CAPACITY as JOURNAL_CAPACITY
from ember.features.journal import DeadJournal, Journal, claim_dead, encode, release_all
from ember.features.journal import pending as journal_pending
from ember.features.jsonenc import encode as encode_attrs
from ember.features.plan import DIST_OFF, NEG_INF, ROWS_OFF, Group, Plan, Stream, compile_plan
from ember.features.schema import connect, retry_locked
from ember.features.spec import (
    FeatureSpec,
    distinct_key,
    matches,
    parse_window,
    to_micros,
    where_from_json,
    where_json,
)

log_ = logging.getLogger("ember.features")


class _Stale(Exception):
    """The one-statement read saw a newer generation, or needs a slow path: redo it in a transaction."""


@dataclass(frozen=True)
class EvictionReport:
    """What retention or the byte budget removed. `cutoff` is in seconds: data before it is gone."""

    reason: str  # "retention" or "budget"
    event: str  # event type, or "*" for all
    cutoff: float
    events: int
    buckets: int
    served: int
    bytes_before: int
    bytes_after: int


@dataclass(frozen=True)
class ForgetReport:
    entity: str
    events: int
    served: int
    buckets_rebuilt: int
    wal_truncated: bool


@dataclass(frozen=True)
class ServedVector:
    ts: float
    spec: str
    version: int
    spec_hash: str
    entity: str
    vector: np.ndarray


def _merge(acc: list | None, p: list | None) -> list | None:
    """Combine two [count, sum, min, max] partial aggregates (None or count 0: nothing)."""
    if p is None or not p[0]:
        return acc
    if acc is None or not acc[0]:
        return list(p)
    return [acc[0] + p[0], acc[1] + p[1], min(acc[2], p[2]), max(acc[3], p[3])]


def _seconds(x: Any, what: str) -> float:
    if isinstance(x, bool):
        raise FeatureStoreError(f"{what} must be seconds since the epoch or a datetime, found {x!r}")
    if isinstance(x, int | float):
        v = float(x)
    elif isinstance(x, _dt.datetime):
        if x.tzinfo is None:
            raise FeatureStoreError(f"{what} is a naive datetime {x}; give a timezone (e.g. tzinfo=UTC)")
        v = x.timestamp()
    elif isinstance(x, np.generic):
        v = float(x)
    else:
        raise FeatureStoreError(
            f"{what} must be seconds since the epoch or a datetime, found {type(x).__name__}"
        )
    if not math.isfinite(v):
        raise FeatureStoreError(f"{what} must be finite, found {v}")
    return v


class FeatureStore:
    """Events in, feature vectors out, in one SQLite file (WAL mode).

    durability="event": `log()` returns only once the event is durable: with sync="full" or "normal"
    every `log()` is its own committed SQLite transaction; with sync="journal" it is appended to this
    store's journal file with one write and one fdatasync, and the journal is replayed into SQLite
    every `batch_size` events (and by `vector()`, `flush()`, `close()`; after a crash, by the next
    store opened writable on the file). See `ember.features.journal`.
    durability="batch": `log()` buffers; `flush()` (also called by `vector()`, every `batch_size`
    events and on `close()`) commits the buffer in one transaction. Events not yet flushed are lost
    if the process dies.
    cache_mb / mmap_mb: SQLite page cache and memory-mapped read window per connection.
    journal_bytes: size of the preallocated journal (sync="journal"); a full journal is replayed first.
    sync="full" (SQLite synchronous=FULL, fsync on every commit: survives power loss) or "normal"
    (WAL synchronous=NORMAL: a commit survives a process crash; the last commits may be lost on power
    loss) or "journal" (durability="event" only: fdatasync of the journal per event, survives power
    loss; other connections see the events once they are replayed).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: str = "event",
        sync: str = "full",
        batch_size: int = 2000,
        retention_margin: str | int = "1d",
        max_bytes: int | None = None,
        serve_sample_rate: float = 0.0,
        seed: int | None = None,
        clock: Callable[[], float] | None = None,
        readonly: bool = False,
        timeout: float = 30.0,
        maintenance_every: int = 100_000,
        cache_mb: int = 16,
        mmap_mb: int = 64,
        journal_bytes: int = JOURNAL_CAPACITY,
    ) -> None:
        if durability not in ("event", "batch"):
            raise FeatureStoreError(f"durability must be 'event' or 'batch', found {durability!r}")
        if sync not in ("full", "normal", "journal"):
            raise FeatureStoreError(f"sync must be 'full', 'normal' or 'journal', found {sync!r}")
        if sync == "journal" and durability != "event":
            raise FeatureStoreError(
                "sync='journal' makes every log() durable, so it goes with durability='event'; "
                "use durability='batch' with sync='full' or 'normal' for batched commits"
            )
        if not 0.0 <= serve_sample_rate <= 1.0:
            raise FeatureStoreError(f"serve_sample_rate must be in [0, 1], found {serve_sample_rate}")
        self.path = Path(path)
        self.durability = durability
        self.sync = sync
        self.readonly = readonly
        self._batch_size = max(1, int(batch_size))
        self._margin_us = parse_window(retention_margin) or 0
        self._max_bytes = max_bytes
        self._serve_rate = serve_sample_rate
        self._rng = random.Random(seed)
        self._clock = clock or time.time
        self._timeout = timeout
        self._maintenance_every = maintenance_every
        self._since_maintenance = 0
        self._lock = threading.RLock()
        self._pending: list[tuple] = []
        self._pending_served: list[tuple] = []
        self._plans: dict[int, Plan] = {}
        self._plans_by_hash: dict[str, Plan] = {}
        self._gen: Any = None
        self._ev: dict[str, int] = {}
        self._ev_names: dict[int, str] = {}
        self._horizon: dict[int, int] = {}
        self._streams: dict[int, list[Stream]] = {}
        self._ent: dict[str, int] = {}
        self._dk_known: set[tuple] = set()  # distinct-key bucket rows known to be in the file
        self._match_cache: dict[tuple, bool] = {}  # (attrs JSON, where) -> matches(): a pure function
        self._seq = 0
        self._journal: Journal | None = None
        try:
            self._conn = connect(
                self.path,
                readonly=readonly,
                sync="normal" if sync == "normal" else "full",  # journal: replays commit with fsync
                timeout=timeout,
                cache_mb=cache_mb,
                mmap_mb=mmap_mb,
            )
        except sqlite3.DatabaseError as exc:
            raise FeatureStoreError(
                f"cannot open feature store {self.path}: SQLite says {exc}; expected a feature store file "
                f"(or a new path) — check the path, disk space and permissions"
            ) from None
        self._closed = False
        if not readonly:
            try:
                self._recover_journals()
                if sync == "journal":
                    self._journal = Journal(self.path, max(4096, int(journal_bytes)))
            except BaseException:
                self._conn.close()
                self._closed = True
                raise

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            j = self._journal
            try:
                if not self.readonly:
                    self._flush_locked()  # with the journal still attached: the replay mark goes along
                    if j is not None:
                        self._journal = None
                        j.close()  # replayed and zeroed: remove it, then its replay mark
                        self._drop_journal_mark(j.meta_key)
                        j = None
                    try:
                        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.OperationalError:
                        pass
            finally:
                if j is not None:
                    self._journal = None
                    j.abandon()  # not (all) replayed: the next store opened on the file recovers it
                self._conn.close()
                self._closed = True

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise FeatureStoreError(f"feature store {self.path} is closed; open a new FeatureStore")

    # -- caches ----------------------------------------------------------------------------------
    def _sync_caches(self) -> None:
        """Reload ids and streams if another connection registered streams, forgot, or retained."""
        meta = dict(self._conn.execute("SELECT key, value FROM meta WHERE key IN ('gen', 'seq')"))
        self._seq = meta["seq"]  # the last event sequence number, read in this transaction
        gen = meta["gen"]
        if gen == self._gen:
            return
        self._ev.clear()
        self._ev_names.clear()
        self._horizon.clear()
        self._ent.clear()
        self._dk_known.clear()
        self._streams = {}
        for i, name, horizon in self._conn.execute("SELECT id, name, horizon FROM event_types"):
            self._ev[name] = i
            self._ev_names[i] = name
            self._horizon[i] = horizon
        for sid, ev, filt, scope, dkey in self._conn.execute(
            "SELECT id, ev, filter, scope, dkey FROM streams"
        ):
            self._streams.setdefault(ev, []).append(Stream(sid, ev, where_from_json(filt), scope, dkey))
        self._gen = gen

    def _invalidate(self) -> None:
        self._gen = None
        self._ent.clear()
        self._dk_known.clear()

    def _bump_gen(self, conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'gen'")

    def _ev_id(self, conn: sqlite3.Connection, name: str) -> int:
        i = self._ev.get(name)
        if i is None:
            conn.execute("INSERT OR IGNORE INTO event_types(name) VALUES (?)", (name,))
            i, h = conn.execute("SELECT id, horizon FROM event_types WHERE name = ?", (name,)).fetchone()
            self._ev[name], self._ev_names[i], self._horizon[i] = i, name, h
        return i

    def _ent_id(self, conn: sqlite3.Connection, name: str) -> int:
        i = self._ent.get(name)
        if i is None:
            conn.execute("INSERT OR IGNORE INTO entities(name) VALUES (?)", (name,))
            i = conn.execute("SELECT id FROM entities WHERE name = ?", (name,)).fetchone()[0]
            if len(self._ent) > 100_000:
                self._ent.clear()
            self._ent[name] = i
        return i

    # -- transactions ----------------------------------------------------------------------------
    def _write_tx(self, fn: Callable[[sqlite3.Connection], Any], what: str) -> Any:
        if self.readonly:
            raise FeatureStoreError(f"{what}: {self.path} was opened readonly=True; open it without readonly")
        conn = self._conn

        def run() -> Any:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._sync_caches()
                out = fn(conn)
                conn.execute("COMMIT")
                return out
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._invalidate()
                raise

        try:
            return retry_locked(run, self._timeout, what, str(self.path))
        except sqlite3.DatabaseError as exc:
            raise FeatureStoreError(
                f"{what} failed on {self.path}: SQLite says {exc}; check disk space and that the file is a "
                f"healthy feature store (`ember features inspect`)"
            ) from None

    def _read_tx(self, fn: Callable[[sqlite3.Connection], Any], what: str) -> Any:
        conn = self._conn

        def run() -> Any:
            conn.execute("BEGIN")
            try:
                self._sync_caches()
                return fn(conn)
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

        try:
            return retry_locked(run, self._timeout, what, str(self.path))
        except sqlite3.DatabaseError as exc:
            raise FeatureStoreError(f"{what} failed on {self.path}: SQLite says {exc}") from None

    # -- writing ---------------------------------------------------------------------------------
    def log(
        self,
        event: str,
        entity: str,
        value: float = 1.0,
        ts: float | _dt.datetime | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one event. ts: seconds since the epoch (default: the clock now). attrs: flat JSON dict."""
        if type(event) is not str or not event:
            raise FeatureStoreError(f"event must be a non-empty string, found {event!r}")
        if type(entity) is not str or not entity:
            raise FeatureStoreError(f"entity must be a non-empty string like 'user:1', found {entity!r}")
        if type(value) is not float:
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise FeatureStoreError(f"value must be a number, found {type(value).__name__} {value!r}")
            value = float(value)
        if not math.isfinite(value):
            raise FeatureStoreError(
                f"value must be finite, found {value}; log a finite number or skip the event"
            )
        if ts is None:
            ts = self._clock()
        elif type(ts) is not float:
            ts = _seconds(ts, "ts")
        ts_us = int(round(ts * 1_000_000.0))
        if attrs:
            if type(attrs) is not dict and not isinstance(attrs, Mapping):
                raise FeatureStoreError(f"attrs must be a dict with string keys, found {attrs!r}")
            for k in attrs:
                if type(k) is not str:
                    raise FeatureStoreError(f"attrs must be a dict with string keys, found {attrs!r}")
            try:
                aj = encode_attrs(attrs)
            except (TypeError, ValueError) as exc:
                raise FeatureStoreError(
                    f"attrs must be JSON-serializable with finite numbers: {exc}"
                ) from None
        else:
            aj, attrs = None, None
        rec = (event, entity, ts_us, value, aj, attrs)
        with self._lock:
            if self._closed:
                self._check_open()
            if self._journal is not None:
                self._log_journal(rec)
            elif self.durability == "batch":
                self._pending.append(rec)
                if len(self._pending) >= self._batch_size:
                    self._flush_locked()
            else:
                self._write_tx(lambda c: self._write_records(c, [rec], []), "log")
                self._after_write(1)

    def _log_journal(self, rec: tuple) -> None:
        j = self._journal
        assert j is not None
        event, entity, ts_us, value, aj, _ = rec
        try:
            data = encode(j.seq + 1, event, entity, ts_us, value, aj)
        except ValueError as exc:
            raise FeatureStoreError(f"cannot log event {event!r}: {exc}") from None
        if not j.fits(len(data)):
            self._flush_locked()  # replays the journal into SQLite and empties it
        if not j.fits(len(data)):  # larger than the whole journal: one fsynced SQLite commit instead
            self._write_tx(lambda c: self._write_records(c, [rec], []), "log")
            self._after_write(1)
            return
        try:
            j.append(data)
        except OSError as exc:
            raise FeatureStoreError(
                f"log: writing the journal {j.path} failed ({exc}); the event was not recorded — "
                f"check disk space"
            ) from None
        self._pending.append(rec)
        if len(self._pending) >= self._batch_size:
            self._flush_locked()

    def _recover_journals(self) -> int:
        """Replay the journals of stores that died before replaying them; returns the events added."""
        dead = claim_dead(self.path)
        try:
            return sum(self._replay_dead(j) for j in dead)
        finally:
            release_all(dead)

    def _replay_dead(self, j: DeadJournal) -> int:
        if j.scan.torn:
            log_.warning(
                "feature store %s: journal %s ended in a torn or corrupt record (a crash during its "
                "write, before log() returned); it was discarded, the %d records before it were kept",
                self.path,
                j.path,
                len(j.scan.records),
            )

        def tx(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (j.meta_key,)).fetchone()
            upto = row[0] if row else 0  # records up to here were replayed before the crash
            recs = [
                (ev, ent, ts, v, aj, json.loads(aj) if aj else None)
                for seq, (ev, ent, ts, v, aj) in j.scan.records
                if seq > upto
            ]
            last = j.scan.records[-1][0] if j.scan.records else upto
            self._write_records(conn, recs, [], (j.meta_key, max(last, upto)))
            return len(recs)

        with self._synchronous_full():
            n = self._write_tx(tx, "journal recovery")
        j.remove()  # only after the replay is durable; its mark after the removal is
        self._drop_journal_mark(j.meta_key)
        return n

    def _drop_journal_mark(self, key: str) -> None:
        self._write_tx(lambda c: c.execute("DELETE FROM meta WHERE key = ?", (key,)), "journal cleanup")

    @contextlib.contextmanager
    def _synchronous_full(self) -> Iterator[None]:
        """Commits inside are fsynced even on a sync="normal" connection (a journal is removed after)."""
        if self.sync != "normal":
            yield
            return
        self._conn.execute("PRAGMA synchronous = FULL")
        try:
            yield
        finally:
            self._conn.execute("PRAGMA synchronous = NORMAL")

    def flush(self) -> int:
        """Commit buffered events (durability='batch'). Returns how many were written."""
        with self._lock:
            self._check_open()
            return self._flush_locked()

    def _flush_locked(self) -> int:
        if not self._pending and not self._pending_served:
            return 0
        recs, served = self._pending, self._pending_served
        self._pending, self._pending_served = [], []
        j = self._journal
        mark = (j.meta_key, j.seq) if j is not None and recs else None
        try:
            self._write_tx(lambda c: self._write_records(c, recs, served, mark), "flush")
        except BaseException:
            self._pending[:0], self._pending_served[:0] = recs, served  # keep them for the next try
            raise
        if mark is not None:
            j.reset()  # the events are committed (with fsync): overwrite them in the journal
        self._after_write(len(recs))
        return len(recs)

    def _after_write(self, n: int) -> None:
        self._since_maintenance += n
        if self._maintenance_every and self._since_maintenance >= self._maintenance_every:
            self._since_maintenance = 0
            self._maintain_locked(None)

    def _write_records(
        self,
        conn: sqlite3.Connection,
        recs: list[tuple],
        served: list[tuple],
        journal_mark: tuple[str, int] | None = None,
    ) -> None:
        if journal_mark is not None:  # the last journal record these events come from: replay once only
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", journal_mark)
        if recs:
            seq = self._seq  # read by _sync_caches at the start of this write transaction
            rows = []
            acc = Accumulator(self._match_cache)
            ev_cache, ent_cache, streams_by_ev = self._ev, self._ent, self._streams
            for event, entity, ts, value, aj, attrs in recs:
                ev = ev_cache.get(event) or self._ev_id(conn, event)
                ent = ent_cache.get(entity) or self._ent_id(conn, entity)
                seq += 1
                rows.append((ev, ent, ts, seq, value, aj))
                streams = streams_by_ev.get(ev)
                if streams:
                    acc.add(streams, ent, entity, ts, value, attrs, aj)
            conn.executemany("INSERT INTO events(ev, ent, ts, seq, value, attrs) VALUES (?,?,?,?,?,?)", rows)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (seq,))
            self._seq = seq
            acc.write(conn, self._dk_known)
        if served:
            conn.executemany(
                "INSERT INTO served(ts, spec, version, spec_hash, entity, vector) VALUES (?,?,?,?,?,?)",
                served,
            )

    # -- specs -----------------------------------------------------------------------------------
    def register(self, spec: FeatureSpec) -> None:
        """Record `spec` in the file and build its time buckets from the events already stored."""
        with self._lock:
            self._check_open()
            self._plan(spec)

    def specs(self) -> list[FeatureSpec]:
        with self._lock:
            self._check_open()
            rows = self._conn.execute("SELECT json FROM specs ORDER BY name, version").fetchall()
        return [FeatureSpec.from_json(j) for (j,) in rows]

    def _plan(self, spec: FeatureSpec) -> Plan:
        p = self._plans.get(id(spec))
        if p is not None and p.spec is spec:
            return p
        if not isinstance(spec, FeatureSpec):
            raise FeatureStoreError(f"expected a FeatureSpec, found {type(spec).__name__}")
        h = spec.content_hash
        p = self._plans_by_hash.get(h)
        if p is None:
            if self.readonly:
                streams = self._read_tx(lambda c: self._lookup_streams(c, spec), "vector")
            else:
                streams = self._write_tx(lambda c: self._register_tx(c, spec, h), "register")
            p = compile_plan(spec, streams)
            self._plans_by_hash[h] = p
        if len(self._plans) > 256:
            self._plans.clear()
        self._plans[id(spec)] = p
        return self._plans[id(spec)]

    def _lookup_streams(self, conn: sqlite3.Connection, spec: FeatureSpec) -> dict[tuple, Stream]:
        out = {}
        for f in spec.features:
            ev = self._ev.get(f.event)
            found = [
                s for s in self._streams.get(ev, []) if (where_json(s.where), s.scope, s.dkey) == f.stream[1:]
            ]
            if not found:
                raise FeatureStoreError(
                    f"spec {spec.name!r} v{spec.version} is not registered in {self.path} "
                    f"(feature {f.name!r}); "
                    f"open the store writable once and call register(spec) or vector()"
                )
            out[f.stream] = found[0]
        return out

    def _register_tx(self, conn: sqlite3.Connection, spec: FeatureSpec, h: str) -> dict[tuple, Stream]:
        row = conn.execute(
            "SELECT hash FROM specs WHERE name = ? AND version = ?", (spec.name, spec.version)
        ).fetchone()
        if row and row[0] != h:
            raise FeatureSpecError(
                f"spec {spec.name!r} version {spec.version} is already registered in {self.path} "
                f"with different "
                f"features (sha256 {row[0][:12]}… vs {h[:12]}…); a changed spec needs a new version number"
            )
        out: dict[tuple, Stream] = {}
        created = False
        for f in spec.features:
            if f.stream in out:
                continue
            ev = self._ev_id(conn, f.event)
            filt = where_json(f.where)
            got = conn.execute(
                "SELECT id FROM streams WHERE ev = ? AND filter = ? AND scope = ? AND dkey = ?",
                (ev, filt, f.scope, f.stream[3]),
            ).fetchone()
            if got:
                out[f.stream] = Stream(got[0], ev, f.where, f.scope, f.stream[3])
                continue
            cur = conn.execute(
                "INSERT INTO streams(ev, filter, scope, dkey) VALUES (?,?,?,?)",
                (ev, filt, f.scope, f.stream[3]),
            )
            s = Stream(cur.lastrowid, ev, f.where, f.scope, f.stream[3])
            out[f.stream] = s
            self._backfill(conn, s)
            self._streams.setdefault(ev, []).append(s)
            created = True
        if not row:
            conn.execute(
                "INSERT INTO specs(name, version, hash, json, registered_at) VALUES (?,?,?,?,?)",
                (spec.name, spec.version, h, spec.to_json().decode(), time.time()),
            )
        if created:
            self._bump_gen(conn)
            self._gen = conn.execute("SELECT value FROM meta WHERE key = 'gen'").fetchone()[0]
        return out

    def _backfill(self, conn: sqlite3.Connection, s: Stream) -> None:
        """Build the buckets of a new stream from the raw events already in the file."""
        acc = Accumulator()
        cur = conn.execute(
            "SELECT e.ent, n.name, e.ts, e.value, e.attrs FROM events e JOIN entities n ON n.id = e.ent "
            "WHERE e.ev = ? AND e.ts >= ?",
            (s.ev, self._horizon.get(s.ev, NEG_INF)),
        )
        while rows := cur.fetchmany(20_000):
            for ent, name, ts, value, aj in rows:
                acc.add((s,), ent, name, ts, value, json.loads(aj) if aj else None)
            acc.write(conn)

    # -- reading ---------------------------------------------------------------------------------
    def vector(
        self,
        spec: FeatureSpec,
        entity: str,
        at: float | _dt.datetime | None = None,
        *,
        record: bool | None = None,
    ) -> np.ndarray:
        """The float32 feature vector of `entity` at time `at` (default now), in spec order, with defaults.

        record: True logs the served vector, False never does, None samples at serve_sample_rate.
        """
        with self._lock:
            self._check_open()
            if self._pending:
                self._flush_locked()
            plan = self._plan(spec)
            at_us = to_micros(self._clock() if at is None else _seconds(at, "at"))
            out = None
            if plan.single_sql and not plan.slow_last and self._gen is not None:
                try:
                    out = retry_locked(
                        lambda: self._compute(self._conn, plan, entity, at_us, single=True),
                        self._timeout,
                        "vector",
                        str(self.path),
                    )
                except _Stale:
                    out = None  # caches out of date or a slow path needed: redo in a transaction
                except sqlite3.DatabaseError as exc:
                    raise FeatureStoreError(f"vector failed on {self.path}: SQLite says {exc}") from None
            if out is None:
                out = self._read_tx(lambda c: self._compute(c, plan, entity, at_us), "vector")
            if record or (record is None and self._serve_rate and self._rng.random() < self._serve_rate):
                row = (at_us, spec.name, spec.version, spec.content_hash, entity, out.tobytes())
                if self.durability == "batch":
                    self._pending_served.append(row)
                elif not self.readonly:
                    self._write_tx(lambda c: self._write_records(c, [], [row]), "record served vector")
        return out

    def _compute(
        self, conn: sqlite3.Connection, plan: Plan, entity: str, at_us: int, single: bool = False
    ) -> np.ndarray:
        ent = self._ent.get(entity)
        if ent is None:
            r = conn.execute("SELECT id FROM entities WHERE name = ?", (entity,)).fetchone()
            ent = r[0] if r else -1
            if r:
                self._ent[entity] = ent
        b_end = at_us + 1
        splits: dict[int, bk.Split] = {}
        split_of: dict[int, bk.Split] = {}
        need: dict[int, tuple[int, bool]] = {}  # stream -> (right-edge levels used, right raw used)
        # parameters in the order of _compile's VALUES lists: bucket pieces of the groups, then of the
        # shared blocks; raw edges per entity (groups, blocks); raw edges of all entities (groups, blocks)
        num_b: list[Any] = []
        num_bb: list[Any] = []
        cnt_b: list[Any] = []  # bucket pieces of count-only groups and right edges (their own join)
        cnt_bb: list[Any] = []
        num_re: list[Any] = []
        num_reb: list[Any] = []
        num_ra: list[Any] = []
        num_rab: list[Any] = []
        rows_p: list[Any] = []
        dist_p: list[Any] = []
        ranges: dict[int, tuple[int, int]] = {}
        horizons = self._horizon
        rr = bk.right_runs(b_end)
        frags: dict[tuple, tuple] = {}  # (a, top, all entities) -> (bucket params, own raw params, split)
        for g in plan.groups:
            s = g.stream
            horizon = horizons.get(s.ev, NEG_INF)
            if g.window_us is None:
                a = NEG_INF if g.kind == "last" else horizon
            else:
                a = max(at_us - g.window_us + 1, horizon)
            ranges[g.gid] = (a, b_end)
            e = () if s.any else (ent,)
            if g.kind == "last":
                if not s.where:
                    rows_p += (*e, a, b_end)
                continue
            if g.kind == "dist":
                dist_p += (*e, a, b_end, *e)
                continue
            fkey = (a, g.top, s.any)
            frag = frags.get(fkey)
            if frag is None:
                sp = splits.get(a)
                if sp is None:
                    sp = splits[a] = bk.split(a, b_end, rr)
                left = [(1, 0)] * g.top
                for lvl, lo, hi in sp.left:
                    left[lvl] = (lo, hi)
                own = sp.own_raw[0] if sp.own_raw else (1, 0)
                frag = frags[fkey] = (
                    tuple(x for lo, hi in left for x in (*e, lo, hi)) + (*e, *(sp.middle or (0, 1, 0))),
                    (*e, *own),
                    sp,
                )
            if g.count_only:
                cnt_b += frag[0]
            else:
                num_b += frag[0]
            sp = frag[2]
            split_of[g.gid] = sp
            if s.where:
                rows_p += frag[1]
                rows_p += (*e, *(bk.right_raw(b_end) if sp.right_raw else (1, 0)))
            else:
                (num_ra if s.any else num_re).extend(frag[1])
                blk = need.get(s.id)
                need[s.id] = (max(sp.k, blk[0]), sp.right_raw or blk[1]) if blk else (sp.k, sp.right_raw)
                continue
            blk = need.get(s.id)
            need[s.id] = (max(sp.k, blk[0]), blk[1]) if blk else (sp.k, False)
        # The shared right edge of each stream: read once, only as far as some window needs it.
        rraw = bk.right_raw(b_end)
        for sid, levels, ev_any in plan.blocks:
            k, want_raw = need.get(sid, (0, False))
            e = () if ev_any else (ent,)
            bb = cnt_bb if plan.block_count_only[sid] else num_bb
            for lvl in range(levels):
                bb += (*e, *(rr[lvl][1:] if lvl < k else (1, 0)))
            if plan.block_raw[sid] is not None:
                (num_rab if ev_any else num_reb).extend((*e, *(rraw if want_raw else (1, 0))))
        num_params = num_b + num_bb + num_re + num_reb + num_ra + num_rab + cnt_b + cnt_bb
        if single:  # one statement: one consistent snapshot without BEGIN/COMMIT
            results: Any = conn.execute(plan.single_sql, num_params + dist_p + rows_p).fetchall()
        else:
            results = conn.execute(plan.num_sql, num_params).fetchall() if plan.num_sql else []
            for chunks, params in ((plan.dist_sql, dist_p), (plan.rows_sql, rows_p)):
                i = 0
                for sql, n in chunks:
                    results += conn.execute(sql, params[i : i + n]).fetchall()
                    i += n
        groups = plan.by_gid
        num: dict[int, list] = {}
        dist: dict[int, int] = {}
        lasts: dict[int, list] = {}
        filtered: list[tuple] = []
        for row in results:
            gid = row[0]
            if gid < ROWS_OFF:
                if gid < 0:  # the generation counter, read in the same snapshot
                    if row[1] != self._gen:
                        raise _Stale
                else:
                    got = num.get(gid)  # a count-only group can have a bucket row and a raw-edge row
                    num[gid] = list(row[1:]) if got is None else _merge(got, row[1:])
            elif gid >= DIST_OFF:
                gid -= DIST_OFF
                n, latest = row[1], row[2]
                if latest is not None and latest >= b_end:  # a key recurs after `at`: slow, exact way
                    if single:
                        raise _Stale
                    n = self._slow_distinct(conn, groups[gid], ent, *ranges[gid])
                dist[gid] = n
            else:
                gid -= ROWS_OFF
                if groups[gid].kind == "last":
                    lasts.setdefault(gid, []).append(row[1:4])
                else:
                    filtered.append((gid, row[3], row[4]))
        # Each window adds its stream's shared right edge up to the level it reached: prefix sums of
        # the block's levels, computed once per stream.
        prefix: dict[int, list] = {}
        for sid, levels, _ in plan.blocks:
            base = plan.block_base[sid]
            acc: list | None = None
            cum = [None]
            for lvl in range(levels):
                acc = _merge(acc, num.get(base + lvl))
                cum.append(acc)
            prefix[sid] = cum
        for g in plan.groups:
            if g.kind != "num":
                continue
            sp = split_of[g.gid]
            sid = g.stream.id
            acc = _merge(num.get(g.gid), prefix[sid][sp.k] if sp.k else None)
            if sp.right_raw and not g.stream.where:
                acc = _merge(acc, num.get(plan.block_base[sid] + bk.LEVELS))
            if acc is not None:
                num[g.gid] = acc
        seen = self._match_cache
        if len(seen) > 50_000:
            seen.clear()
        for gid, value, aj in filtered:  # raw edges of filtered streams, filtered by the one `matches`
            where = groups[gid].stream.where
            ok = seen.get((aj, where))
            if ok is None:
                ok = seen[(aj, where)] = matches(json.loads(aj) if aj else None, where)
            if not ok:
                continue
            acc = num.get(gid)
            if acc is None:
                num[gid] = [1, value, value, value]
            else:
                acc[0] += 1
                acc[1] += value
                acc[2] = min(acc[2], value)
                acc[3] = max(acc[3], value)
        for g in plan.slow_last:
            lasts[g.gid] = self._scan_last(conn, g, ent, *ranges[g.gid])
        vals: list[float] = []
        for f, g in plan.slots:
            kind = g.kind
            if kind == "num":
                acc = num.get(g.gid)
                if not acc or not acc[0]:
                    vals.append(f.default)
                    continue
                c, sm, mn, mx = acc
                agg = f.agg
                if agg == "count":
                    vals.append(float(c))
                elif agg == "sum":
                    vals.append(sm)
                elif agg == "mean":
                    vals.append(sm / c)
                elif agg == "min":
                    vals.append(mn)
                else:
                    vals.append(mx)
            elif kind == "dist":
                n = dist.get(g.gid)
                vals.append(float(n) if n else f.default)
            else:
                got = lasts.get(g.gid, [])
                if len(got) > 1:
                    got.sort(key=lambda r: (r[0], r[1]), reverse=True)
                width = f.width
                vals.extend(r[2] for r in got[:width])
                vals.extend([f.default] * (width - min(width, len(got))))
        return np.array(vals, dtype=np.float32)

    def _slow_distinct(self, conn: sqlite3.Connection, g: Group, ent: int, a: int, b: int) -> int:
        """count_distinct from the distinct-key buckets and raw edges (used when `at` is in the past)."""
        s = g.stream
        ent_sql, e = ("ent = 0", ()) if s.any else ("ent = ?", (ent,))
        keys: set[str] = set()
        dp = bk.decompose(a, b)
        raw = list(dp.raw)
        g0 = bk.GRANULARITIES[0]
        for lvl, lo, hi in dp.runs:
            if lvl == 0:  # no distinct-key buckets per minute (schema 5): the raw events instead
                raw.append((lo * g0, (hi + 1) * g0))
                continue
            cur = conn.execute(
                f"SELECT DISTINCT k FROM dbuckets WHERE stream = ? AND {ent_sql} AND lvl = ? "
                "AND b BETWEEN ? AND ?",
                (s.id, *e, lvl, lo, hi),
            )
            keys.update(k for (k,) in cur)
        raw_ent = "" if s.any else " AND e.ent = ?"
        for lo, hi in raw:
            cur = conn.execute(
                "SELECT n.name, e.value, e.attrs FROM events e JOIN entities n ON n.id = e.ent "
                f"WHERE e.ev = ?{raw_ent} AND e.ts >= ? AND e.ts < ?",
                (s.ev, *e, lo, hi),
            )
            for name, value, aj in cur:
                attrs = json.loads(aj) if aj else None
                if matches(attrs, s.where):
                    k = distinct_key(s.dkey, name, value, attrs)
                    if k is not None:
                        keys.add(k)
        return len(keys)

    def _scan_last(self, conn: sqlite3.Connection, g: Group, ent: int, a: int, b: int) -> list:
        s = g.stream
        if s.scope == "any":
            sql = (
                "SELECT ts, seq, value, attrs FROM events WHERE ev = ? AND ts >= ? AND ts < ? "
                "ORDER BY ts DESC, seq DESC"
            )
            params: tuple = (s.ev, a, b)
        else:
            sql = (
                "SELECT ts, seq, value, attrs FROM events WHERE ev = ? AND ent = ? AND ts >= ? AND ts < ? "
                "ORDER BY ts DESC, seq DESC"
            )
            params = (s.ev, ent, a, b)
        out = []
        for ts, seq, value, aj in conn.execute(sql, params):
            if matches(json.loads(aj) if aj else None, s.where):
                out.append((ts, seq, value))
                if len(out) >= g.n:
                    break
        return out

    # -- served vectors --------------------------------------------------------------------------
    def served(self, spec: str | None = None) -> list[ServedVector]:
        """The recorded (sampled) served vectors, oldest first, optionally for one spec name."""
        with self._lock:
            self._check_open()
            if not self.readonly:
                self._flush_locked()
            sql = "SELECT ts, spec, version, spec_hash, entity, vector FROM served"
            rows = self._conn.execute(
                sql + (" WHERE spec = ? ORDER BY ts, id" if spec else " ORDER BY ts, id"),
                (spec,) if spec else (),
            ).fetchall()
        return [
            ServedVector(ts / 1e6, n, v, h, e, np.frombuffer(blob, dtype=np.float32).copy())
            for ts, n, v, h, e, blob in rows
        ]

    # -- retention and budget --------------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes of the database in use (pages minus free pages); what max_bytes is compared with."""
        with self._lock:
            c = self._conn
            pc = c.execute("PRAGMA page_count").fetchone()[0]
            fl = c.execute("PRAGMA freelist_count").fetchone()[0]
            ps = c.execute("PRAGMA page_size").fetchone()[0]
        return (pc - fl) * ps

    def maintain(self, now: float | None = None) -> list[EvictionReport]:
        """Apply retention (drop raw events no registered spec can see) and the byte budget now."""
        with self._lock:
            self._check_open()
            self._flush_locked()
            if not self.readonly:
                self._recover_journals()
            return self._maintain_locked(now)

    def _maintain_locked(self, now: float | None) -> list[EvictionReport]:
        if self.readonly:
            return []
        now_us = to_micros(self._clock() if now is None else _seconds(now, "now"))
        reports = self._write_tx(lambda c: self._retention_tx(c, now_us), "retention")
        if self._max_bytes is not None:
            while self.used_bytes() > self._max_bytes:
                r = self._write_tx(self._evict_oldest_tx, "budget eviction")
                if r is None:
                    log_.warning(
                        "feature store %s: %d bytes in use, over the budget of %d, "
                        "with no events left to evict",
                        self.path,
                        self.used_bytes(),
                        self._max_bytes,
                    )
                    break
                self._vacuum()
                r = EvictionReport(**{**r.__dict__, "bytes_after": self.used_bytes()})
                self._conn.execute(
                    "UPDATE evictions SET bytes_after = ? WHERE id = (SELECT max(id) FROM evictions)",
                    (r.bytes_after,),
                )
                log_.warning(
                    "feature store %s over budget: evicted %d events and %d buckets before %s",
                    self.path,
                    r.events,
                    r.buckets,
                    _dt.datetime.fromtimestamp(r.cutoff, _dt.timezone.utc),
                )
                reports.append(r)
        if reports:
            self._vacuum()
        return reports

    def _vacuum(self) -> None:
        try:
            self._conn.execute("PRAGMA incremental_vacuum").fetchall()
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.OperationalError:
            pass  # busy: the space is reclaimed next time

    def _needs(self, conn: sqlite3.Connection) -> tuple[dict[str, tuple[int, bool, int]], int] | None:
        """Per event: (longest bounded window, needs all time, keep-last-N); and the longest window."""
        specs = [FeatureSpec.from_json(j) for (j,) in conn.execute("SELECT json FROM specs")]
        if not specs:
            return None
        need: dict[str, tuple[int, bool, int]] = {}
        longest = 0
        for sp in specs:
            for f in sp.features:
                w, forever, keep = need.get(f.event, (0, False, 0))
                if f.window_us is None:
                    if f.agg in ("last", "last_n"):
                        keep = max(keep, f.width)
                    else:
                        forever = True
                else:
                    w = max(w, f.window_us)
                    longest = max(longest, f.window_us)
                need[f.event] = (w, forever, keep)
        return need, longest

    def _retention_tx(self, conn: sqlite3.Connection, now_us: int) -> list[EvictionReport]:
        got = self._needs(conn)
        if got is None:
            return []  # no spec registered yet: nothing says what may go
        need, longest = got
        reports = []
        for name, ev in list(self._ev.items()):
            w, forever, keep = need.get(name, (longest, False, 0))
            if forever:
                continue
            h = ((now_us - w - self._margin_us) // bk.DAY_US) * bk.DAY_US
            if h <= self._horizon.get(ev, NEG_INF):
                continue
            before = conn.total_changes
            if keep:
                # keep the newest `keep` of the rows before the horizon (per entity and overall): a
                # `last` read at `now` or later may need them even when newer rows exist, for those
                # may lie after the moment read (found by the retention property test)
                conn.execute(
                    "DELETE FROM events WHERE ev = ?1 AND ts < ?2 AND seq NOT IN ("
                    " SELECT seq FROM (SELECT seq, row_number() OVER"
                    " (PARTITION BY ent ORDER BY ts DESC, seq DESC)"
                    "  AS rn FROM events WHERE ev = ?1 AND ts < ?2) WHERE rn <= ?3"
                    " UNION SELECT seq FROM (SELECT seq FROM events WHERE ev = ?1 AND ts < ?2"
                    " ORDER BY ts DESC, seq DESC LIMIT ?3))",
                    (ev, h, keep),
                )
            else:
                conn.execute("DELETE FROM events WHERE ev = ? AND ts < ?", (ev, h))
            n_events = conn.total_changes - before
            n_buckets = self._drop_buckets_before(conn, [ev], h)
            conn.execute("UPDATE event_types SET horizon = ? WHERE id = ?", (h, ev))
            self._horizon[ev] = h
            if n_events or n_buckets:
                reports.append(EvictionReport("retention", name, h / 1e6, n_events, n_buckets, 0, 0, 0))
                conn.execute(
                    "INSERT INTO evictions(at, reason, cutoff, events, buckets, bytes_before, bytes_after) "
                    "VALUES (?,?,?,?,?,0,0)",
                    (time.time(), f"retention:{name}", h, n_events, n_buckets),
                )
        if reports:
            self._bump_gen(conn)
        return reports

    def _drop_buckets_before(self, conn: sqlite3.Connection, evs: list[int], h: int) -> int:
        self._dk_known.clear()
        before = conn.total_changes
        for ev in evs:
            for s in self._streams.get(ev, []):
                for lvl, g in enumerate(bk.GRANULARITIES):
                    first_kept = -((-h) // g)  # buckets starting before h go (reads never start before h)
                    table = "dbuckets" if s.dkey else "buckets"
                    conn.execute(
                        f"DELETE FROM {table} WHERE stream = ? AND lvl = ? AND b < ?", (s.id, lvl, first_kept)
                    )
                if s.dkey:
                    conn.execute("DELETE FROM dlast WHERE stream = ? AND last_ts < ?", (s.id, h))
        return conn.total_changes - before

    def _evict_oldest_tx(self, conn: sqlite3.Connection) -> EvictionReport | None:
        bytes_before = self.used_bytes()
        oldest = conn.execute("SELECT min(ts) FROM events").fetchone()[0]
        oldest_served = conn.execute("SELECT min(ts) FROM served").fetchone()[0]
        cands = [t for t in (oldest, oldest_served) if t is not None]
        if not cands:
            return None
        cutoff = (min(cands) // bk.DAY_US) * bk.DAY_US + bk.DAY_US
        before = conn.total_changes
        conn.execute("DELETE FROM events WHERE ts < ?", (cutoff,))
        n_events = conn.total_changes - before
        before = conn.total_changes
        conn.execute("DELETE FROM served WHERE ts < ?", (cutoff,))
        n_served = conn.total_changes - before
        n_buckets = self._drop_buckets_before(conn, list(self._ev_names), cutoff)
        conn.execute("UPDATE event_types SET horizon = max(horizon, ?)", (cutoff,))
        for ev in self._horizon:
            self._horizon[ev] = max(self._horizon[ev], cutoff)
        conn.execute(
            "INSERT INTO evictions(at, reason, cutoff, events, buckets, bytes_before, bytes_after) "
            "VALUES (?,?,?,?,?,?,0)",
            (time.time(), "budget", cutoff, n_events, n_buckets, bytes_before),
        )
        self._bump_gen(conn)
        return EvictionReport("budget", "*", cutoff / 1e6, n_events, n_buckets, n_served, bytes_before, 0)

    # -- privacy ---------------------------------------------------------------------------------
    def forget(self, entity: str) -> ForgetReport:
        """Remove every event, bucket and served vector of `entity`, overwriting it in the file and WAL."""
        with self._lock:
            self._check_open()
            self._flush_locked()  # also overwrites this store's journal with zeros
            self._recover_journals()  # events of dead stores' journals are forgotten too
            n_events, n_served, rebuilt = self._write_tx(lambda c: self._forget_tx(c, entity), "forget")
            return ForgetReport(entity, n_events, n_served, rebuilt, self._truncate_wal())

    def _forget_tx(self, conn: sqlite3.Connection, entity: str) -> tuple[int, int, int]:
        self._dk_known.clear()
        before = conn.total_changes
        conn.execute("DELETE FROM served WHERE entity = ?", (entity,))
        n_served = conn.total_changes - before
        row = conn.execute("SELECT id FROM entities WHERE name = ?", (entity,)).fetchone()
        if not row:
            return 0, n_served, 0
        ent = row[0]
        n_events = 0
        touched = []
        for ev in list(self._ev_names):
            before = conn.total_changes
            conn.execute("DELETE FROM events WHERE ev = ? AND ent = ?", (ev, ent))
            if conn.total_changes > before:
                n_events += conn.total_changes - before
                touched.append(ev)
        conn.execute("DELETE FROM entities WHERE id = ?", (ent,))
        rebuilt = 0
        for ev in touched:
            for s in self._streams.get(ev, []):
                if s.any:  # all-entity buckets held this entity's events: rebuild them from what is left
                    self._clear_stream(conn, s)
                    self._backfill(conn, s)
                    rebuilt += 1
        for s in (s for ss in self._streams.values() for s in ss if not s.any):
            for table in ("dbuckets", "dlast") if s.dkey else ("buckets",):
                conn.execute(f"DELETE FROM {table} WHERE stream = ? AND ent = ?", (s.id, ent))
        self._bump_gen(conn)
        return n_events, n_served, rebuilt

    def _clear_stream(self, conn: sqlite3.Connection, s: Stream) -> None:
        for table in ("dbuckets", "dlast") if s.dkey else ("buckets",):
            conn.execute(f"DELETE FROM {table} WHERE stream = ?", (s.id,))

    def forget_all(self) -> ForgetReport:
        """Remove every event, entity, bucket and served vector (specs stay); VACUUM; truncate the WAL."""
        with self._lock:
            self._check_open()
            self._pending.clear()
            self._pending_served.clear()
            if self._journal is not None:
                self._journal.reset()
            self._recover_journals()

            def tx(conn: sqlite3.Connection) -> tuple[int, int]:
                self._dk_known.clear()
                n = conn.execute("SELECT count(*) FROM events").fetchone()[0]
                s = conn.execute("SELECT count(*) FROM served").fetchone()[0]
                for t in ("events", "buckets", "dbuckets", "dlast", "served", "entities", "evictions"):
                    conn.execute(f"DELETE FROM {t}")
                self._bump_gen(conn)
                return n, s

            n, s = self._write_tx(tx, "forget_all")
            retry_locked(lambda: self._conn.execute("VACUUM"), self._timeout, "forget_all", str(self.path))
            return ForgetReport("*", n, s, 0, self._truncate_wal())

    def _truncate_wal(self) -> bool:
        deadline = time.monotonic() + min(self._timeout, 5.0)
        while True:
            try:
                busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.OperationalError:
                busy = 1
            if not busy:
                return True
            if time.monotonic() > deadline:
                log_.warning(
                    "feature store %s: the WAL could not be truncated (another connection is reading); "
                    "forgotten data may remain in %s-wal until the next checkpoint",
                    self.path,
                    self.path,
                )
                return False
            time.sleep(0.01)

    # -- export and stats ------------------------------------------------------------------------
    def iter_events(self) -> Any:
        """Yield (seq, event, entity, ts_us, value, attrs_json) in logging order (flushes first)."""
        with self._lock:
            self._check_open()
            if not self.readonly:
                self._flush_locked()
            rows = self._conn.execute(
                "SELECT e.seq, t.name, n.name, e.ts, e.value, e.attrs FROM events e "
                "JOIN event_types t ON t.id = e.ev JOIN entities n ON n.id = e.ent ORDER BY e.seq"
            ).fetchall()
        yield from rows

    def to_pandas(self) -> Any:
        """The event log as a DataFrame: seq, event, entity, ts (seconds), ts_us, value, attrs (JSON)."""
        import pandas as pd

        rows = list(self.iter_events())
        df = pd.DataFrame(rows, columns=["seq", "event", "entity", "ts_us", "value", "attrs"])
        df["ts_us"] = df["ts_us"].astype("int64")
        df["ts"] = df["ts_us"] / 1e6
        return df[["seq", "event", "entity", "ts", "ts_us", "value", "attrs"]]

    def stats(self) -> dict[str, Any]:
        """Counts, time range and sizes, for `ember features inspect`."""
        with self._lock:
            self._check_open()
            c = self._conn
            per_event = [
                {
                    "event": name,
                    "events": n,
                    "first": lo / 1e6 if lo is not None else None,
                    "last": hi / 1e6 if hi is not None else None,
                }
                for name, n, lo, hi in c.execute(
                    "SELECT t.name, count(e.seq), min(e.ts), max(e.ts) FROM event_types t "
                    "LEFT JOIN events e ON e.ev = t.id GROUP BY t.id ORDER BY t.name"
                )
            ]
            ps = c.execute("PRAGMA page_size").fetchone()[0]
            pc = c.execute("PRAGMA page_count").fetchone()[0]
            fl = c.execute("PRAGMA freelist_count").fetchone()[0]
            wal = Path(str(self.path) + "-wal")
            out = {
                "path": str(self.path),
                "schema_version": c.execute("PRAGMA user_version").fetchone()[0],
                "events": sum(p["events"] for p in per_event),
                "entities": c.execute("SELECT count(*) FROM entities").fetchone()[0],
                "per_event": per_event,
                "buckets": c.execute("SELECT count(*) FROM buckets").fetchone()[0]
                + c.execute("SELECT count(*) FROM dbuckets").fetchone()[0],
                "served": c.execute("SELECT count(*) FROM served").fetchone()[0],
                "specs": [
                    {"name": n, "version": v, "sha256": h, "features": len(json.loads(j)["features"])}
                    for n, v, h, j in c.execute(
                        "SELECT name, version, hash, json FROM specs ORDER BY name, version"
                    )
                ],
                "evictions": [
                    {"at": a, "reason": r, "cutoff": cu / 1e6, "events": e, "buckets": b}
                    for a, r, cu, e, b in c.execute(
                        "SELECT at, reason, cutoff, events, buckets FROM evictions ORDER BY id DESC LIMIT 10"
                    )
                ],
                "bytes": {
                    "file": self.path.stat().st_size if self.path.exists() else 0,
                    "wal": wal.stat().st_size if wal.exists() else 0,
                    "used": (pc - fl) * ps,
                    "free": fl * ps,
                },
                "pending": len(self._pending),
                "journals": journal_pending(self.path),
            }
            try:
                out["bytes"]["tables"] = {
                    name: size
                    for name, size in c.execute(
                        "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
                    )
                }
            except sqlite3.OperationalError:
                pass  # SQLite built without dbstat
        return out
