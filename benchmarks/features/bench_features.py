"""Feature store benchmark (a script, not a test).

Measures, on this machine:
  * log() throughput, batched (durability="batch") and per-event (durability="event") with
    sync="journal" (one pwrite + fdatasync into the store's preallocated journal per event, replayed
    into SQLite in batches: survives power loss), sync="full" (a SQLite commit + fsync per event:
    survives power loss) and sync="normal" (WAL NORMAL: survives a process crash, may lose the last
    commits on power loss);
  * the disk's bare rates beside them: a SQLite WAL commit with fsync, and a 100-byte overwrite +
    fdatasync in a preallocated file (the journal's pattern, without Python or SQLite around it);
  * vector() latency (p50/p90/p99) of a 50-feature spec with 1M events stored over 90 days;
  * database bytes per million events.
and writes the figures into benchmarks/RESULTS.md between `<!-- features:start -->` and
`<!-- features:end -->` (only that section is created or replaced).

usage: PYTHONPATH=src python benchmarks/features/bench_features.py [--events 1000000] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ember.bench.results_md import write_section
from ember.features import Feature, FeatureSpec, FeatureStore

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- features:start -->", "<!-- features:end -->"
NOW = 1_770_000_000.0
DAY = 86_400.0
EVENTS = ("click", "dwell", "query", "view", "purchase")


class Progress:
    """rich if installed, else tqdm, else a plain line rewritten in place."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what, self.done, self._t = total, what, 0, 0.0
        self._bar = None
        try:
            from rich.progress import Progress as RP

            self._rp = RP(transient=True)
            self._rp.start()
            self._bar = self._rp.add_task(what, total=total)
        except ImportError:
            self._rp = None
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=what, leave=False)
            except ImportError:
                self._bar = None

    def update(self, n: int) -> None:
        self.done += n
        if self._rp is not None:
            self._rp.update(self._bar, advance=n)
        elif self._bar is not None:
            self._bar.update(n)
        elif time.monotonic() - self._t > 0.5:
            self._t = time.monotonic()
            print(f"\r{self.what}: {self.done}/{self.total}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._rp is not None:
            self._rp.stop()
        elif self._bar is not None:
            self._bar.close()
        else:
            print(file=sys.stderr)


def bench_spec() -> FeatureSpec:
    """50 features: every aggregation, windows 5m..90d, filters, all-entity scope."""
    feats = []
    windows = ["5m", "1h", "1d", "7d", "30d", "90d"]
    for ev in ("click", "view"):
        for w in windows:
            feats.append(Feature(f"{ev}_n_{w}", event=ev, agg="count", window=w))
    for w in windows:
        feats.append(Feature(f"dwell_sum_{w}", event="dwell", agg="sum", window=w))
        feats.append(Feature(f"dwell_mean_{w}", event="dwell", agg="mean", window=w))
    for w in ("1h", "1d", "7d", "30d"):
        feats.append(Feature(f"dwell_min_{w}", event="dwell", agg="min", window=w))
        feats.append(Feature(f"dwell_max_{w}", event="dwell", agg="max", window=w))
    feats += [
        Feature("query_last", event="query", agg="last"),
        Feature("query_last5", event="query", agg="last_n", n=5),
        Feature("purchase_last", event="purchase", agg="last", window="90d"),
        Feature("purchase_sum_30d", event="purchase", agg="sum", window="30d"),
        Feature("purchase_n_90d", event="purchase", agg="count", window="90d"),
        Feature("items_1d", event="click", agg="count_distinct", key="attrs.item", window="1d"),
        Feature("items_7d", event="click", agg="count_distinct", key="attrs.item", window="7d"),
        Feature("feed_clicks_1d", event="click", agg="count", where={"surface": "feed"}, window="1d"),
        Feature("feed_clicks_7d", event="click", agg="count", where={"surface": "feed"}, window="7d"),
        Feature("search_clicks_1h", event="click", agg="count", where={"surface": "search"}, window="1h"),
        Feature("views_any_1h", event="view", agg="count", window="1h", scope="any"),
        Feature("views_any_1d", event="view", agg="count", window="1d", scope="any"),
        Feature("dwell_any_max_1d", event="dwell", agg="max", window="1d", scope="any"),
        Feature("query_n_1d", event="query", agg="count", window="1d"),
        Feature("query_sum_7d", event="query", agg="sum", window="7d"),
        Feature("view_last", event="view", agg="last"),
        Feature("purchase_max_90d", event="purchase", agg="max", window="90d"),
        Feature("dwell_last3_1d", event="dwell", agg="last_n", n=3, window="1d"),
    ]
    assert len(feats) == 50, len(feats)
    return FeatureSpec("bench50", feats)


def gen_events(n: int, days: float, seed: int = 0, late: float = 0.01):  # noqa: ANN201
    """Events as an app logs them: in time order over `days`, a fraction `late` up to an hour late."""
    rng = np.random.default_rng(seed)
    ts = np.sort(NOW - rng.uniform(0, days * DAY, n))
    is_late = rng.random(n) < late
    ts[is_late] -= rng.uniform(0, 3600, int(is_late.sum()))
    ev = rng.choice(len(EVENTS), n, p=[0.35, 0.2, 0.1, 0.33, 0.02])
    ent = np.where(rng.random(n) < 0.9, 0, rng.integers(1, 50, n))
    val = rng.integers(0, 600, n) / 4.0
    item = rng.integers(0, 500, n)
    surf = rng.choice(["feed", "search", "home"], n)
    for i in range(n):
        e = EVENTS[ev[i]]
        attrs = {"item": int(item[i]), "surface": str(surf[i])} if e == "click" else None
        yield e, f"user:{ent[i]}", float(val[i]), float(ts[i]), attrs


def throughput(path: Path, n: int, spec: FeatureSpec, **kw) -> tuple[float, float]:  # noqa: ANN003
    """(events per wall-clock second, events per CPU second of this process)."""
    fs = FeatureStore(path, maintenance_every=0, **kw)
    fs.register(spec)
    evs = list(gen_events(n, 1.0, seed=1))
    prog = Progress(n, f"log {kw}")
    t, c = time.perf_counter(), time.process_time()
    for i, (e, ent, v, ts, a) in enumerate(evs):
        fs.log(e, ent, value=v, ts=ts, attrs=a)
        if i % 1000 == 999:
            prog.update(1000)
    fs.flush()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    prog.close()
    fs.close()
    return n / dt, n / max(dc, 1e-9)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000, help="events stored for the read benchmark")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--no-write", action="store_true", help="do not update benchmarks/RESULTS.md")
    args = ap.parse_args()
    n_batch = 20_000 if args.quick else 200_000
    n_event = 2_000 if args.quick else 10_000
    n_store = 50_000 if args.quick else args.events
    spec = bench_spec()
    rows: list[tuple[str, str, str]] = []
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=os.environ.get("EMBER_BENCH_TMP")) as d:
        tmp = Path(d)
        reps = 1 if args.quick else 3
        # Batched: best and median of `reps` runs (other jobs share the 2 cores: the best run is the
        # one least disturbed; the CPU-time rate is this process's own cost either way).
        for label, kw in (
            ("durability=batch (flush every 2000), sync=normal", dict(durability="batch", sync="normal")),
            ("durability=batch (flush every 2000), sync=full", dict(durability="batch", sync="full")),
            (
                "durability=batch (flush every 10000), sync=normal",
                dict(durability="batch", sync="normal", batch_size=10_000),
            ),
        ):
            runs = sorted(
                (throughput(tmp / f"b{len(rows)}-{r}.db", n_batch, spec, **kw) for r in range(reps)),
                reverse=True,
            )
            (wall, cpu), (mwall, mcpu) = runs[0], runs[len(runs) // 2]
            rows.append(
                (
                    f"log(), {label}: best (median) of {reps}",
                    f"{wall:,.0f} ({mwall:,.0f}) events/s; per CPU-second {cpu:,.0f} ({mcpu:,.0f})",
                    "≥ 100k",
                )
            )
        # Per event: the disk's bare rates measured right before and after each mode, so a mode is
        # compared with what the disk gave at that moment (it swings 10x with other jobs' writes).
        for label, kw in (
            ("durability=event, sync=journal (pwrite + fdatasync per event)", dict(sync="journal")),
            ("durability=event, sync=full (SQLite commit + fsync per event)", dict(sync="full")),
            ("durability=event, sync=normal (WAL NORMAL; not power-loss safe)", dict(sync="normal")),
        ):
            fds0 = fdatasync_rate(tmp / "probe.journal")
            fsy0 = fsync_rate(tmp / f"probe{len(rows)}a.db")
            wall, cpu = throughput(tmp / f"e{len(rows)}.db", n_event, spec, durability="event", **kw)
            fds1 = fdatasync_rate(tmp / "probe.journal")
            fsy1 = fsync_rate(tmp / f"probe{len(rows)}b.db")
            rows.append(
                (
                    f"log(), {label}",
                    f"{wall:,.0f} events/s (per CPU-second: {cpu:,.0f}); the disk before / after: "
                    f"{fds0:,.0f} / {fds1:,.0f} bare fdatasyncs/s, {fsy0:,.0f} / {fsy1:,.0f} bare "
                    "fsync'd SQLite commits/s",
                    "≥ 5k",
                )
            )

        # -- 1M events over 90 days, 50-feature vector --------------------------------------------
        path = tmp / "big.db"
        fs = FeatureStore(path, durability="batch", sync="normal", batch_size=20_000, maintenance_every=0)
        fs.register(spec)
        prog = Progress(n_store, f"store {n_store} events over 90 days")
        t = time.perf_counter()
        history = gen_events(n_store, 90.0, seed=2)  # 90 days, logged as it happened
        for i, (e, ent, v, ts, a) in enumerate(history):
            fs.log(e, ent, value=v, ts=ts, attrs=a)
            if i % 10_000 == 9_999:
                prog.update(10_000)
        fs.flush()
        load = n_store / (time.perf_counter() - t)
        prog.close()
        fs.close()
        c = sqlite3.connect(path)
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        used = (
            c.execute("PRAGMA page_count").fetchone()[0] - c.execute("PRAGMA freelist_count").fetchone()[0]
        ) * (c.execute("PRAGMA page_size").fetchone()[0])
        n_buckets = c.execute("SELECT count(*) FROM buckets").fetchone()[0]
        n_buckets += c.execute("SELECT count(*) FROM dbuckets").fetchone()[0]
        c.close()
        rows.append(
            (
                f"load {n_store:,} events over 90 days (batch, with 50-feature spec)",
                f"{load:,.0f} events/s",
                "",
            )
        )
        rows.append(("database bytes per million events", f"{used / n_store * 1e6 / 2**20:,.1f} MiB", ""))
        rows.append(("  (of which time buckets)", f"{n_buckets:,} rows", ""))

        fs = FeatureStore(path, readonly=True)
        rng = np.random.default_rng(3)
        # Serving: `at` is now (after every stored event), at 3000 moments over the next hour, so
        # window edges fall at every alignment. History: `at` inside the stored data (as a
        # training-time backfill would ask): count_distinct then takes its slow exact path.
        for label, ats in (
            ("serving, at = now", NOW + rng.uniform(0, 3600, 3000)),
            ("history, at = 1h..30d ago", NOW - rng.uniform(3600, 30 * DAY, 1000)),
        ):
            for a in ats[:200]:  # warm-up: page cache, statement cache
                fs.vector(spec, "user:0", at=a)
            lat, cpu = [], []
            prog = Progress(len(ats), f"vector() x {len(ats)} ({label})")
            for a in ats:
                t, c = time.perf_counter_ns(), time.thread_time_ns()
                fs.vector(spec, "user:0", at=a)
                lat.append((time.perf_counter_ns() - t) / 1e6)
                cpu.append((time.thread_time_ns() - c) / 1e6)
                prog.update(1)
            prog.close()
            target = "≤ 1 ms" if label.startswith("serving") else ""
            for what, xs in (("wall clock", lat), ("CPU time of the calling thread", cpu)):
                xs.sort()
                p = lambda q, xs=xs: xs[min(len(xs) - 1, int(q * len(xs)))]  # noqa: E731
                rows.append(
                    (
                        f"vector(), 50 features, {n_store:,} events / 90 days, {label}, {what}: "
                        "p50 / p90 / p99",
                        f"{p(0.5):.3f} / {p(0.9):.3f} / {p(0.99):.3f} ms",
                        f"p99 {target}" if target else "",
                    )
                )
        fs.close()

    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    section = (
        f"{START}\n## Feature store (ember.features)\n\n"
        f"`PYTHONPATH=src python benchmarks/features/bench_features.py` — "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
        f"{' (--quick)' if args.quick else ''}.\n\n"
        "| measure | result | target |\n|---|---|---|\n"
        f"{table}\n\n"
        "Durability: sync=journal fdatasyncs the event into the store's preallocated journal before log() "
        "returns and replays the journal into SQLite (with fsync) every batch_size events (survives "
        "power loss, given a disk that honours flushes); sync=full fsyncs the WAL on every commit "
        "(survives power loss); sync=normal (WAL synchronous=NORMAL) survives a process crash (tested: "
        "SIGKILL, 72 trials over the four modes) but the last commits may be lost on power loss. Shared "
        f"machine: load average {load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end on "
        f"{os.cpu_count()} cores (other engineers' builds and benchmarks); wall-clock figures include "
        "time this process waited for a CPU or the disk, CPU-time figures do not.\n"
        f"{END}"
    )
    print(section)
    if not args.no_write:
        write_section(RESULTS, section, START, END)
    return 0


def fsync_rate(path: Path, n: int = 300) -> float:
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("CREATE TABLE t(x)")
    t = time.perf_counter()
    for i in range(n):
        c.execute("INSERT INTO t VALUES (?)", (i,))
    r = n / (time.perf_counter() - t)
    c.close()
    return r


def fdatasync_rate(path: Path, n: int = 1000) -> float:
    """The journal's I/O pattern alone: the ceiling for any per-event durable log() on this disk."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.posix_fallocate(fd, 0, 4 << 20)
        os.fsync(fd)
        rec = b"x" * 100
        t = time.perf_counter()
        for i in range(n):
            os.pwrite(fd, rec, i * 100)
            os.fdatasync(fd)
        return n / (time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
