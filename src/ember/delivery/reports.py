"""Device reports in SQLite: what release each device runs and which releases fail where."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ember.delivery.errors import DeliveryError

STATUSES = ("ok", "failed", "rolled_back")
FAILURES = ("failed", "rolled_back")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    device TEXT NOT NULL,
    model TEXT NOT NULL,
    channel TEXT NOT NULL,
    release INTEGER NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS reports_release ON reports (model, release, device);
CREATE TABLE IF NOT EXISTS halts (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    model TEXT NOT NULL,
    channel TEXT NOT NULL,
    release INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    total INTEGER NOT NULL
);
"""


class ReportError(DeliveryError):
    """A device report is malformed."""


def validate(report: Any) -> dict[str, Any]:
    """The fields we store, type-checked; raises ReportError naming what is wrong."""
    if not isinstance(report, dict):
        raise ReportError(f"a report must be a JSON object, got {type(report).__name__}.")
    try:
        out = {
            "device": str(report["device"])[:128],
            "model": str(report["model"])[:64],
            "channel": str(report.get("channel", "stable"))[:64],
            "release": int(report["release"]),
            "status": str(report["status"]),
            "detail": str(report.get("detail", ""))[:500],
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(
            f"report is missing or has a bad field: {exc}; expected device, model, release, status."
        ) from None
    if out["status"] not in STATUSES:
        raise ReportError(f"report status {out['status']!r} is not one of {STATUSES}.")
    return out


class ReportStore:
    def __init__(self, path: Path | str):
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def add(self, report: dict[str, Any]) -> dict[str, Any]:
        r = validate(report)
        with self._lock:
            self._db.execute(
                "INSERT INTO reports (ts, device, model, channel, release, status, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time(), r["device"], r["model"], r["channel"], r["release"], r["status"], r["detail"]),
            )
        return r

    def add_halt(self, model: str, channel: str, release: int, failed: int, total: int) -> None:
        """Record an automatic halt (shown by `ember registry status`)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO halts (ts, model, channel, release, failed, total) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), model, channel, release, failed, total),
            )

    def release_health(self, model: str, release: int) -> tuple[int, int]:
        """(devices that reported on this release, of which failed): each device counted once, by its
        latest report."""
        with self._lock:
            rows = self._db.execute(
                "SELECT status FROM reports WHERE id IN (SELECT MAX(id) FROM reports "
                "WHERE model = ? AND release = ? GROUP BY device)",
                (model, release),
            ).fetchall()
        return len(rows), sum(1 for (s,) in rows if s in FAILURES)

    def summary(self, model: str) -> dict[str, Any]:
        """Per release: devices ok / failed / rolled back; and how many devices currently run each release
        (by their latest successful install)."""
        with self._lock:
            per_release = self._db.execute(
                "SELECT release, status, COUNT(DISTINCT device) FROM reports WHERE model = ? "
                "GROUP BY release, status ORDER BY release",
                (model,),
            ).fetchall()
            running = self._db.execute(
                "SELECT release, COUNT(*) FROM reports WHERE id IN (SELECT MAX(id) FROM reports "
                "WHERE model = ? AND status = 'ok' GROUP BY device) GROUP BY release ORDER BY release",
                (model,),
            ).fetchall()
            halts = self._db.execute(
                "SELECT ts, channel, release, failed, total FROM halts WHERE model = ? ORDER BY id", (model,)
            ).fetchall()
        releases: dict[int, dict[str, int]] = {}
        for release, status, n in per_release:
            releases.setdefault(release, dict.fromkeys(STATUSES, 0))[status] = n
        return {
            "releases": releases,
            "devices_running": dict(running),
            "auto_halts": [
                {
                    "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)),
                    "channel": ch,
                    "release": rel,
                    "failed": failed,
                    "total": total,
                }
                for ts, ch, rel, failed, total in halts
            ],
        }
