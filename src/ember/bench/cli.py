"""`ember bench`: measure an .ember file on this machine. Heavy imports stay inside the handler."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure an .ember file: load time, first run, latency percentiles, memory, per-op profile",
    )
    p.add_argument("model", help="path of the .ember file")
    p.add_argument("--runs", type=int, default=50, help="timed runs (default 50)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs before timing (default 3)")
    p.add_argument("--threads", type=int, default=None, help="threads for the runtime (default: its own)")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="stop timing after this many seconds even if fewer than --runs were done",
    )
    p.add_argument(
        "--profile-runs", type=int, default=3, help="runs for the per-op profile, 0 to skip it (default 3)"
    )
    p.add_argument("--top", type=int, default=10, help="rows in the profile tables (default 10)")
    p.add_argument(
        "--input",
        help=".npz with one array per input (by name, or arr_0, arr_1, ...); "
        "default: random floats, integer inputs set to 1",
    )
    p.add_argument("--json", metavar="PATH", help="also write the full results (every sample) as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    import json
    import os

    from ember.bench.model import bench_model, format_report
    from ember.errors import EmberError

    if args.runs < 1:
        raise EmberError(f"--runs must be at least 1, got {args.runs}")
    if args.threads is not None and args.threads < 1:
        raise EmberError(f"--threads must be at least 1, got {args.threads}")
    if not os.path.isfile(args.model):
        raise EmberError(f"no such model file: {args.model}")
    result = bench_model(
        args.model,
        runs=args.runs,
        warmup=args.warmup,
        threads=args.threads,
        max_seconds=args.max_seconds,
        profile_runs=args.profile_runs,
        npz=args.input,
        show_progress=not args.no_progress,
    )
    print(format_report(result, top=args.top))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
        print(f"\nwrote {args.json}")
    return 0
