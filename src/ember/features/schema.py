"""The SQLite file: tables, schema version, migrations, and the connection settings.

The schema version lives in ``PRAGMA user_version`` and the file is marked as an Ember feature
store by ``PRAGMA application_id``. Both are read before anything is written: a file from a newer
Ember, or a SQLite file that is not a feature store, is refused with the file left byte-for-byte
untouched. Migrations run one step at a time inside a single ``BEGIN IMMEDIATE`` transaction, so a
crash mid-migration leaves the old version intact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ember.features.errors import FeatureStoreError, SchemaVersionError

APPLICATION_ID = 0x454D4246  # "EMBF"
SCHEMA_VERSION = 5
# Page size of new files (an existing file keeps its own). Measured at 16 KiB: batched logging at
# most ~5% faster and vector() 3%, but per-event commits 25-40% slower (each commit writes every
# page it dirtied to the WAL, ~10 pages per event), so the default 4 KiB stays.
PAGE_SIZE = 4096
T = TypeVar("T")

# Version 1: events, time buckets, specs, retention log.
_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('gen', 0), ('created', strftime('%s','now'));
CREATE TABLE event_types (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  horizon INTEGER NOT NULL DEFAULT -4611686018427387904  -- reads start no earlier (µs)
);
CREATE TABLE entities (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY, ev INTEGER NOT NULL, ent INTEGER NOT NULL,
  ts INTEGER NOT NULL, value REAL NOT NULL, attrs TEXT
);
CREATE INDEX events_by_entity ON events(ev, ent, ts);
CREATE INDEX events_by_time ON events(ev, ts);
CREATE TABLE streams (
  id INTEGER PRIMARY KEY, ev INTEGER NOT NULL, filter TEXT NOT NULL, scope TEXT NOT NULL,
  dkey TEXT NOT NULL, UNIQUE (ev, filter, scope, dkey)
);
CREATE TABLE buckets (
  stream INTEGER NOT NULL, ent INTEGER NOT NULL, lvl INTEGER NOT NULL, b INTEGER NOT NULL,
  cnt INTEGER NOT NULL, sm REAL NOT NULL, mn REAL NOT NULL, mx REAL NOT NULL,
  PRIMARY KEY (stream, ent, lvl, b)
) WITHOUT ROWID;
CREATE TABLE dbuckets (
  stream INTEGER NOT NULL, ent INTEGER NOT NULL, lvl INTEGER NOT NULL, b INTEGER NOT NULL, k TEXT NOT NULL,
  PRIMARY KEY (stream, ent, lvl, b, k)
) WITHOUT ROWID;
CREATE TABLE specs (
  name TEXT NOT NULL, version INTEGER NOT NULL, hash TEXT NOT NULL, json TEXT NOT NULL,
  registered_at REAL NOT NULL, PRIMARY KEY (name, version)
);
CREATE TABLE evictions (
  id INTEGER PRIMARY KEY, at REAL NOT NULL, reason TEXT NOT NULL, cutoff INTEGER NOT NULL,
  events INTEGER NOT NULL, buckets INTEGER NOT NULL,
  bytes_before INTEGER NOT NULL, bytes_after INTEGER NOT NULL
);
"""

# Version 2: sampled log of the vectors served at inference.
_V2 = """
CREATE TABLE served (
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, spec TEXT NOT NULL, version INTEGER NOT NULL,
  spec_hash TEXT NOT NULL, entity TEXT NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX served_by_spec ON served(spec, version, ts);
"""

# Version 3: latest occurrence of every distinct key, so count_distinct at "now" is one index count.
_V3 = """
CREATE TABLE dlast (
  stream INTEGER NOT NULL, ent INTEGER NOT NULL, k TEXT NOT NULL, last_ts INTEGER NOT NULL,
  PRIMARY KEY (stream, ent, k)
) WITHOUT ROWID;
CREATE INDEX dlast_by_time ON dlast(stream, ent, last_ts);
"""


def _v3(conn: sqlite3.Connection) -> None:
    for stmt in _statements(_V3):
        conn.execute(stmt)
    streams = conn.execute("SELECT id FROM streams WHERE dkey != ''").fetchall()
    for (sid,) in streams:
        fill_dlast(conn, sid)


def fill_dlast(conn: sqlite3.Connection, sid: int) -> None:
    """(Re)build the latest-occurrence table of one count_distinct stream from the raw events."""
    from ember.features.spec import distinct_key, matches, where_from_json

    ev, filt, scope, dkey = conn.execute(
        "SELECT ev, filter, scope, dkey FROM streams WHERE id = ?", (sid,)
    ).fetchone()
    where = where_from_json(filt)
    horizon = conn.execute("SELECT horizon FROM event_types WHERE id = ?", (ev,)).fetchone()[0]
    latest: dict[tuple[int, str], int] = {}
    cur = conn.execute(
        "SELECT e.ent, n.name, e.ts, e.value, e.attrs FROM events e JOIN entities n ON n.id = e.ent "
        "WHERE e.ev = ? AND e.ts >= ?",
        (ev, horizon),
    )
    for ent, name, ts, value, aj in cur:
        attrs = json.loads(aj) if aj else None
        if where and not matches(attrs, where):
            continue
        k = distinct_key(dkey, name, value, attrs)
        if k is None:
            continue
        key = (0 if scope == "any" else ent, k)
        if latest.get(key, ts - 1) < ts:
            latest[key] = ts
    conn.execute("DELETE FROM dlast WHERE stream = ?", (sid,))
    conn.executemany(
        "INSERT INTO dlast(stream, ent, k, last_ts) VALUES (?,?,?,?)",
        [(sid, e, k, t) for (e, k), t in latest.items()],
    )


# Version 4: events clustered by (ev, ent, ts, seq) (WITHOUT ROWID): one B-tree fewer to update per
# event, raw edge reads never leave the tree; seq is handed out from meta under the write lock.
_V4 = """
CREATE TABLE events_v4 (
  ev INTEGER NOT NULL, ent INTEGER NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
  value REAL NOT NULL, attrs TEXT, PRIMARY KEY (ev, ent, ts, seq)
) WITHOUT ROWID;
INSERT INTO events_v4(ev, ent, ts, seq, value, attrs) SELECT ev, ent, ts, seq, value, attrs FROM events;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
CREATE INDEX events_by_time ON events(ev, ts);
INSERT INTO meta(key, value) SELECT 'seq', coalesce(max(seq), 0) FROM events;
"""

# Version 5: distinct-key buckets from the 15-minute level up (a window's minute runs read raw events
# instead: 40% fewer rows written per event); per-event journals (`ember.features.journal`) beside
# the file, whose replay marks live in meta. An older Ember would neither read the minute runs from
# the raw events nor replay a journal, so it must refuse the file: hence a new version.
_V5 = """
DELETE FROM dbuckets WHERE lvl = 0;
"""

# MIGRATIONS[i] takes a file from version i to version i + 1: a SQL script or a function.
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (_V1, _V2, _v3, _V4, _V5)
assert len(MIGRATIONS) == SCHEMA_VERSION


def _locked(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


def retry_locked(fn: Callable[[], T], timeout: float, what: str, path: str) -> T:
    """Run `fn` (a whole transaction), retrying while SQLite says busy/locked, up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _locked(exc):
                raise
            if time.monotonic() > deadline:
                raise FeatureStoreError(
                    f"{what}: the feature store {path} stayed locked by another connection "
                    f"for {timeout:.0f} s "
                    f"(SQLite: {exc}); a process is holding a long write transaction — find it, or pass a "
                    f"larger timeout= to FeatureStore"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def not_sqlite(path: Path) -> FeatureStoreError:
    return FeatureStoreError(
        f"{path} is not a SQLite database (SQLite says: file is not a database); expected a feature store "
        f"created by ember.features.FeatureStore — check the path"
    )


# Never open() the database file from Python to peek at it: closing any descriptor of a file drops
# every POSIX lock this process holds on it, including the locks of open SQLite connections, which
# is how SQLite databases get corrupted (https://www.sqlite.org/howtocorrupt.html, section 2.2).


def read_versions(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(application_id, user_version, number of tables) — all read-only."""
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    ver = conn.execute("PRAGMA user_version").fetchone()[0]
    n = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
    return app, ver, n


def refuse_if_foreign(path: Path, app: int, ver: int, ntables: int) -> None:
    if ver > SCHEMA_VERSION and app in (APPLICATION_ID, 0):
        raise SchemaVersionError(
            f"{path} has feature-store schema version {ver}, newer than this Ember understands "
            f"({SCHEMA_VERSION}); the file was not changed — upgrade Ember to open it"
        )
    if app not in (APPLICATION_ID, 0) or (app == 0 and ntables > 0):
        raise SchemaVersionError(
            f"{path} is a SQLite database but not an Ember feature store (application_id={app:#x}, "
            f"{ntables} tables); the file was not changed — point FeatureStore at a new or feature-store path"
        )


def migrate(conn: sqlite3.Connection, path: Path, target: int = SCHEMA_VERSION) -> int:
    """Bring the file to `target` (default: current) in one transaction. Returns the version found."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        app, ver, ntables = read_versions(conn)  # re-read under the write lock: another process may have won
        refuse_if_foreign(path, app, ver, ntables)
        for step in range(ver, target):
            step_fn = MIGRATIONS[step]
            if callable(step_fn):
                step_fn(conn)
            else:
                for stmt in _statements(step_fn):
                    conn.execute(stmt)
        if ver < target:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
        return ver
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT first; split so each step stays inside our transaction.
    lines = [ln.split("--")[0] for ln in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def create(path: Path) -> None:
    """Create a new store atomically: build it in a temporary file, then hard-link it into place.

    Several processes opening a new path at once would otherwise race on the first page (page
    size, auto_vacuum, WAL flag); this way every one of them opens a complete file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    try:
        c = sqlite3.connect(os.fspath(tmp), isolation_level=None)
        try:
            # set first (after auto_vacuum SQLite silently ignores it); see PAGE_SIZE
            c.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            c.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect before the first table
            c.execute("PRAGMA journal_mode = WAL")
            migrate(c, path)
        finally:
            c.close()  # the last connection checkpoints the WAL into the file
        try:
            if path.exists() and path.stat().st_size == 0:
                os.replace(tmp, path)  # an empty placeholder file: nothing to lose
            else:
                os.link(tmp, path)  # fails if another process created it first: theirs wins
        except FileExistsError:
            pass
    finally:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{tmp}{suffix}")
            except FileNotFoundError:
                pass


def connect(
    path: Path, *, readonly: bool, sync: str, timeout: float, cache_mb: int = 16, mmap_mb: int = 64
) -> sqlite3.Connection:
    """Open (creating if allowed), check the version, migrate, and apply the connection settings."""
    if not readonly and (not path.exists() or path.stat().st_size == 0):
        try:
            create(path)
        except OSError as exc:
            raise FeatureStoreError(
                f"cannot create feature store {path}: {exc}; check that the directory exists and is writable"
            ) from None
    if readonly:
        if not path.exists():
            raise FeatureStoreError(
                f"{path} does not exist; expected a feature store created by FeatureStore"
            )
        uri = f"file:{os.fspath(path.resolve())}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=timeout)
    else:
        conn = sqlite3.connect(
            os.fspath(path),
            isolation_level=None,
            check_same_thread=False,
            timeout=timeout,
            cached_statements=512,
        )
    try:
        try:
            versions = read_versions(conn)
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise not_sqlite(path) from None
            raise
        refuse_if_foreign(path, *versions)
        conn.execute(f"PRAGMA cache_size = {-1024 * int(cache_mb)}")  # KiB when negative
        conn.execute(f"PRAGMA mmap_size = {1024 * 1024 * int(mmap_mb)}")  # reads straight from the page cache
        if readonly:
            _, ver, _ = read_versions(conn)
            if ver < SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{path} has schema version {ver}, older than this Ember ({SCHEMA_VERSION}); "
                    f"open it once "
                    f"for writing (FeatureStore(path)) to migrate it"
                )
            return conn
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        mode = retry_locked(
            lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0], timeout, "open", str(path)
        )
        if str(mode).lower() != "wal":
            raise FeatureStoreError(
                f"{path}: SQLite refused WAL mode (journal_mode is {mode}); the file system may not support "
                f"shared memory — put the store on a local disk"
            )
        conn.execute(f"PRAGMA synchronous = {'FULL' if sync == 'full' else 'NORMAL'}")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA foreign_keys = OFF")
        retry_locked(lambda: migrate(conn, path), timeout, "migrate", str(path))
        return conn
    except BaseException:
        conn.close()
        raise
