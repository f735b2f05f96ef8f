"""The per-event journal: durable `log()` with one write and one fdatasync, replayed into SQLite in batches.

A store opened with ``durability="event", sync="journal"`` owns one journal file,
``<db>-journals/<token>.ej``, preallocated (``posix_fallocate``) and locked with ``flock`` for as
long as the store is open. Each ``log()`` appends one record with a single ``pwrite`` and makes it
durable with ``fdatasync`` (the file never grows, so no size metadata has to be flushed); the
events are replayed into SQLite in batches, in a transaction that also records the last replayed
record number in ``meta`` (key ``journal:<token>``), and then the used part of the journal is
overwritten with zeros. A record is replayed exactly once: records at or below the recorded number
are skipped if a crash came between the SQLite commit and the zeroing.

Record framing (little endian)::

    u32 length of body | u32 crc32(seq || body) | u64 seq | body
    body = i64 ts_us | f64 value | u16 len(event) | u16 len(entity) | i32 len(attrs) or -1 | bytes

Recovery (`claim_dead`) reads a journal whose owner is gone (its ``flock`` can be taken) from the
start and stops at the first record that is zero, cut short, fails its CRC or does not continue the
sequence: a record torn by a power loss is discarded, every record before it is kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

HEADER = struct.Struct("<IIQ")
BODY = struct.Struct("<qdHHi")
SEQ = struct.Struct("<Q")
CAPACITY = 4 << 20  # bytes preallocated per journal; a full journal is replayed, then reused
SUFFIX = ".ej"

Record = tuple[str, str, int, float, "str | None"]  # event, entity, ts_us, value, attrs JSON


def journal_dir(db: Path) -> Path:
    return db.with_name(db.name + "-journals")


def encode(seq: int, event: str, entity: str, ts_us: int, value: float, attrs_json: str | None) -> bytes:
    ev, en = event.encode(), entity.encode()
    at = attrs_json.encode() if attrs_json is not None else b""
    if len(ev) > 0xFFFF or len(en) > 0xFFFF:
        raise ValueError("event and entity names are limited to 65535 bytes in the journal")
    body = BODY.pack(ts_us, value, len(ev), len(en), len(at) if attrs_json is not None else -1) + ev + en + at
    sb = SEQ.pack(seq)
    return HEADER.pack(len(body), zlib.crc32(body, zlib.crc32(sb)), seq) + body


@dataclass
class Scan:
    records: list[tuple[int, Record]]  # (seq, record) in journal order
    end: int  # offset just after the last valid record
    torn: bool  # non-zero bytes follow the last valid record (a torn or corrupt record was discarded)


def scan(data: bytes) -> Scan:
    """Every valid record from the start of a journal's bytes, up to the first invalid one."""
    out: list[tuple[int, Record]] = []
    off, prev = 0, None
    n_data = len(data)
    while off + HEADER.size <= n_data:
        n, crc, seq = HEADER.unpack_from(data, off)
        start = off + HEADER.size
        if n < BODY.size or start + n > n_data or (prev is not None and seq != prev + 1):
            break
        body = data[start : start + n]
        if zlib.crc32(body, zlib.crc32(SEQ.pack(seq))) != crc:
            break
        ts, value, le, ln, la = BODY.unpack_from(body)
        p = BODY.size
        if p + le + ln + max(la, 0) != n:
            break
        event = body[p : p + le].decode()
        entity = body[p + le : p + le + ln].decode()
        attrs = body[p + le + ln : n].decode() if la >= 0 else None
        out.append((seq, (event, entity, ts, value, attrs)))
        prev, off = seq, start + n
    torn = any(data[off : off + 64]) if off < n_data else False
    return Scan(out, off, torn)


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """This store's own journal file: append + fdatasync per record, zeroed after each replay."""

    def __init__(self, db: Path, capacity: int = CAPACITY) -> None:
        d = journal_dir(db)
        if not d.is_dir():
            d.mkdir(exist_ok=True)
            _fsync_dir(d.parent)
        self.token = secrets.token_hex(8)
        self.path = d / f"{self.token}{SUFFIX}"
        self.capacity = capacity
        self.seq = 0  # the last record number written
        self.off = 0  # where the next record goes
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.posix_fallocate(self._fd, 0, capacity)
            os.fsync(self._fd)  # the size and the extents, once; later fdatasyncs carry data only
            _fsync_dir(d)  # the file's name survives a power loss
        except BaseException:
            os.close(self._fd)
            self.path.unlink(missing_ok=True)
            raise

    @property
    def meta_key(self) -> str:
        return f"journal:{self.token}"

    def fits(self, n: int) -> bool:
        return self.off + n <= self.capacity

    def append(self, data: bytes) -> None:
        """Write record number `seq + 1` (encoded) at the end; durable when this returns."""
        if os.pwrite(self._fd, data, self.off) != len(data):
            raise OSError(f"short write to the feature-store journal {self.path} (disk full?)")
        os.fdatasync(self._fd)
        self.off += len(data)
        self.seq += 1

    def reset(self) -> None:
        """Overwrite the used part with zeros (the events are in SQLite now) and start again at 0."""
        if self.off:
            zeros = bytes(min(self.off, 1 << 20))
            pos = 0
            while pos < self.off:
                pos += os.pwrite(self._fd, zeros[: self.off - pos], pos)
            os.fdatasync(self._fd)
            self.off = 0

    def close(self) -> None:
        """Remove the (replayed, zeroed) journal; the lock goes with the descriptor."""
        if self._fd < 0:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = -1

    def abandon(self) -> None:
        """Drop the descriptor (and so the lock) and leave the file, as a crash would (tests)."""
        os.close(self._fd)
        self._fd = -1


class DeadJournal:
    """A journal whose owner is gone, locked by us while its records are replayed and it is removed."""

    def __init__(self, path: Path, fd: int, found: Scan) -> None:
        self.path, self._fd, self.scan = path, fd, found
        self.token = path.name[: -len(SUFFIX)]

    @property
    def meta_key(self) -> str:
        return f"journal:{self.token}"

    def remove(self) -> None:
        """Unlink it durably (its records are not zeroed: its replay mark may go only after this)."""
        try:
            self.path.unlink(missing_ok=True)
            _fsync_dir(self.path.parent)
        finally:
            self.release()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def claim_dead(db: Path) -> list[DeadJournal]:
    """Lock and read every journal of `db` whose owner has died (its flock is free)."""
    d = journal_dir(db)
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        if not name.endswith(SUFFIX):
            continue
        p = d / name
        try:
            fd = os.open(p, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # its store is open (in this or another process)
            continue
        try:
            if os.fstat(fd).st_nlink == 0:  # recovered and removed by someone else meanwhile
                os.close(fd)
                continue
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0) if size else b""
        except BaseException:
            os.close(fd)
            raise
        out.append(DeadJournal(p, fd, scan(data)))
    return out


def pending(db: Path) -> list[dict[str, object]]:
    """Every journal of `db` with its size and the events it holds (read only; a journal is zeroed
    after each replay, so these are events not yet in the database, or whose replay was cut short)."""
    d = journal_dir(db)
    try:
        names = sorted(n for n in os.listdir(d) if n.endswith(SUFFIX))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        try:
            data = (d / name).read_bytes()
        except FileNotFoundError:
            continue
        found = scan(data)
        out.append({"file": name, "bytes": len(data), "events": len(found.records), "torn": found.torn})
    return out


def release_all(dead: list[DeadJournal]) -> None:
    for j in dead:
        with contextlib.suppress(OSError):
            j.release()
