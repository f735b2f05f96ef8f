"""`ember features ...`: inspect, export, forget and maintain a feature store file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ember.features.errors import FeatureStoreError

_FORMATS = ("parquet", "csv", "jsonl", "json")


def register(sub: Any) -> None:
    p = sub.add_parser("features", help="on-device feature store: inspect, export, forget")
    fsub = p.add_subparsers(dest="features_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    ins = fsub.add_parser("inspect", help="events, entities, sizes, specs and evictions of a store")
    ins.add_argument("db", type=Path)
    ins.add_argument("--json", action="store_true", help="print machine-readable JSON")
    ins.set_defaults(func=_inspect)

    exp = fsub.add_parser("export", help="write events (or served vectors, or specs) to a file for training")
    exp.add_argument("db", type=Path)
    exp.add_argument(
        "-o", "--out", type=Path, required=True, help="output file (.parquet, .csv, .jsonl, .json)"
    )
    exp.add_argument("--what", choices=("events", "served", "specs"), default="events")
    exp.add_argument("--format", choices=_FORMATS, help="default: from the output file's extension")
    exp.set_defaults(func=_export)

    fg = fsub.add_parser("forget", help="erase one entity (or --all) from the file and its WAL")
    fg.add_argument("db", type=Path)
    fg.add_argument("entity", nargs="?")
    fg.add_argument("--all", action="store_true", help="erase every event, entity and served vector")
    fg.set_defaults(func=_forget)

    mt = fsub.add_parser("maintain", help="apply retention and an optional byte budget now")
    mt.add_argument("db", type=Path)
    mt.add_argument("--max-bytes", type=int, help="evict oldest data until the file uses at most this")
    mt.set_defaults(func=_maintain)


def _open(db: Path, **kw: Any) -> Any:
    from ember.features.store import FeatureStore

    if not db.exists():
        raise FeatureStoreError(f"{db} does not exist; expected a feature store file written by FeatureStore")
    return FeatureStore(db, **kw)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _inspect(args: argparse.Namespace) -> int:
    import datetime as dt

    with _open(args.db, readonly=True) as fs:
        st = fs.stats()
    if args.json:
        print(json.dumps(st, indent=1, sort_keys=True))
        return 0

    def when(t: float | None) -> str:
        return (
            "-" if t is None else dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        )

    b = st["bytes"]
    print(f"{st['path']}  (schema v{st['schema_version']})")
    print(
        f"  events {st['events']}, entities {st['entities']}, buckets {st['buckets']}, served {st['served']}"
    )
    print(
        f"  file {_human(b['file'])}, wal {_human(b['wal'])}, "
        f"used {_human(b['used'])}, free {_human(b['free'])}"
    )
    if st["events"]:
        print(f"  bytes per event {b['used'] / st['events']:.1f}")
    if st["journals"]:
        js = st["journals"]
        print(
            f"  journals {len(js)}, {_human(sum(j['bytes'] for j in js))}: "
            f"{sum(j['events'] for j in js)} events not yet in the database "
            "(replayed by their store, or by the next store opened writable if it died)"
        )
    for name, size in list(b.get("tables", {}).items())[:8]:
        print(f"    {name:<28} {_human(size)}")
    print("  event types:")
    for p in st["per_event"]:
        print(f"    {p['event']:<24} {p['events']:>10}  {when(p['first'])} .. {when(p['last'])}")
    print("  specs:")
    for s in st["specs"] or [{"name": "(none registered)", "version": "", "features": "", "sha256": ""}]:
        print(f"    {s['name']} v{s['version']}  {s['features']} features  {s['sha256'][:16]}")
    if st["evictions"]:
        print("  recent evictions:")
        for e in st["evictions"]:
            print(
                f"    {when(e['at'])} {e['reason']}: {e['events']} events, "
                f"{e['buckets']} buckets < {when(e['cutoff'])}"
            )
    return 0


def _rows(fs: Any, what: str) -> tuple[list[str], list[list[Any]]]:
    if what == "events":
        cols = ["seq", "event", "entity", "ts", "ts_us", "value", "attrs"]
        return cols, [[s, e, n, t / 1e6, t, v, a] for s, e, n, t, v, a in fs.iter_events()]
    if what == "served":
        cols = ["ts", "spec", "version", "spec_hash", "entity", "vector"]
        return cols, [
            [r.ts, r.spec, r.version, r.spec_hash, r.entity, r.vector.tolist()] for r in fs.served()
        ]
    return ["spec"], [[s.to_dict()] for s in fs.specs()]


def _export(args: argparse.Namespace) -> int:
    fmt = args.format or args.out.suffix.lstrip(".").lower()
    if fmt not in _FORMATS:
        raise FeatureStoreError(
            f"cannot tell the export format from {args.out.name!r}; "
            f"use an extension in {_FORMATS} or --format"
        )
    with _open(args.db, readonly=True) as fs:
        cols, rows = _rows(fs, args.what)
    if fmt == "parquet":
        try:
            import pandas as pd
        except ImportError:
            raise FeatureStoreError(
                "Parquet export needs pandas and pyarrow: pip install 'ember[features]' "
                "(or use .jsonl / .csv)"
            ) from None
        pd.DataFrame(rows, columns=cols).to_parquet(args.out)
    elif fmt == "csv":
        import csv

        with open(args.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            w.writerows([json.dumps(x) if isinstance(x, list | dict) else x for x in r] for r in rows)
    elif fmt == "jsonl":
        with open(args.out, "w") as f:
            for r in rows:
                f.write(json.dumps(dict(zip(cols, r, strict=False)), sort_keys=True) + "\n")
    else:
        args.out.write_text(
            json.dumps([dict(zip(cols, r, strict=False)) for r in rows], indent=1, sort_keys=True) + "\n"
        )
    print(f"wrote {len(rows)} {args.what} rows to {args.out}", file=sys.stderr)
    return 0


def _forget(args: argparse.Namespace) -> int:
    if bool(args.entity) == bool(args.all):
        raise FeatureStoreError("give exactly one of ENTITY or --all to `ember features forget`")
    with _open(args.db) as fs:
        r = fs.forget_all() if args.all else fs.forget(args.entity)
    print(
        f"forgot {r.entity}: {r.events} events, {r.served} served vectors; WAL truncated: {r.wal_truncated}"
    )
    return 0 if r.wal_truncated else 1


def _maintain(args: argparse.Namespace) -> int:
    with _open(args.db, max_bytes=args.max_bytes) as fs:
        reports = fs.maintain()
        used = fs.used_bytes()
    for r in reports:
        print(
            f"{r.reason} {r.event}: removed {r.events} events, {r.buckets} buckets, "
            f"{r.served} served before {r.cutoff}"
        )
    print(f"{used} bytes in use")
    return 0
