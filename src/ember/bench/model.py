"""`ember bench model.ember`: load time, first run, timing statistics, memory and the per-op profile."""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ember.bench import profile as prof
from ember.bench.stats import summarize


def rss_bytes() -> tuple[int | None, int | None]:
    """(current RSS, peak RSS) of this process in bytes, from /proc (Linux) or getrusage."""
    cur = peak = None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    except OSError:
        pass
    if peak is None:
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = ru if sys.platform == "darwin" else ru * 1024
    return cur, peak


def make_inputs(mod: Any, npz: str | None = None, seed: int = 0) -> list[np.ndarray]:
    """Inputs from an .npz (by input name or arr_i), else random: floats ~ N(0, 1), integers and bools = 1
    (a valid token id and a 'keep' attention mask)."""
    if npz:
        from ember.errors import EmberError

        data = np.load(npz)
        out = []
        for i, spec in enumerate(mod.inputs):
            key = spec.name if spec.name in data else f"arr_{i}"
            if key not in data:
                raise EmberError(
                    f"{npz} has no array '{spec.name}' or 'arr_{i}' (it has {list(data.keys())})"
                )
            out.append(np.asarray(data[key]))
        return out
    rng = np.random.default_rng(seed)
    out = []
    for spec in mod.inputs:
        if spec.dtype.kind == "f":
            out.append(rng.standard_normal(spec.shape).astype(spec.dtype))
        else:
            out.append(np.ones(spec.shape, spec.dtype))
    return out


@contextmanager
def progress(total: int, description: str, enabled: bool = True) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr (rich, else tqdm, else nothing); yields `advance()`."""
    if not enabled:
        yield lambda: None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda: bar.advance(task)
        return
    except ImportError:
        pass
    try:
        from tqdm import tqdm

        with tqdm(total=total, desc=description, file=sys.stderr, leave=False) as t:
            yield lambda: t.update(1)
        return
    except ImportError:
        yield lambda: None


def bench_model(
    path: str | os.PathLike[str],
    runs: int = 50,
    warmup: int = 3,
    threads: int | None = None,
    max_seconds: float | None = None,
    profile_runs: int = 3,
    npz: str | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Measure one .ember file. Times are in milliseconds; memory in bytes."""
    import ember

    rss0, _ = rss_bytes()
    t0 = time.perf_counter()
    mod = ember.load(path, threads=threads)
    load_ms = (time.perf_counter() - t0) * 1e3
    rss_loaded, _ = rss_bytes()
    inputs = make_inputs(mod, npz)

    t0 = time.perf_counter()
    mod(*inputs)  # creates the session (arena) too
    first_ms = (time.perf_counter() - t0) * 1e3

    for _ in range(max(0, warmup)):
        mod(*inputs)

    samples: list[float] = []
    capped = False
    start = time.perf_counter()
    with progress(runs, f"{Path(path).name}: timed runs", show_progress) as advance:
        for _ in range(max(1, runs)):
            t = time.perf_counter_ns()
            mod(*inputs)
            samples.append((time.perf_counter_ns() - t) / 1e6)
            advance()
            if max_seconds is not None and time.perf_counter() - start > max_seconds and len(samples) < runs:
                capped = True
                break
    stats = summarize(samples)

    rows: list[dict[str, Any]] = []
    if profile_runs > 0:
        rows = mod.profile(*inputs, runs=profile_runs)
    rss_end, rss_peak = rss_bytes()
    return {
        "model": os.fspath(path),
        "file_bytes": Path(path).stat().st_size,
        "threads": threads,
        "inputs": [str(s) for s in mod.inputs],
        "outputs": [str(s) for s in mod.outputs],
        "load_ms": load_ms,
        "first_run_ms": first_ms,
        "warmup": warmup,
        "runs_requested": runs,
        "capped_by_time": capped,
        "samples_ms": samples,
        "stats_ms": stats.as_dict(),
        "memory": dict(mod.memory),
        "rss_bytes": {"before_load": rss0, "after_load": rss_loaded, "end": rss_end, "peak": rss_peak},
        "profile_runs": profile_runs,
        "profile": rows,
    }


def _mb(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 2**20:
        return f"{n / 2**10:.1f} KiB"
    return f"{n / 2**20:.1f} MiB"


def format_report(r: dict[str, Any], top: int = 10) -> str:
    s = r["stats_ms"]
    mem = r["memory"]
    rss = r["rss_bytes"]
    lines = [
        f"model      {r['model']} ({r['file_bytes']:,} bytes), threads={r['threads'] or 'default'}",
        f"inputs     {', '.join(r['inputs'])}",
        f"outputs    {', '.join(r['outputs'])}",
        "",
        "Load and first run",
        f"  load         {r['load_ms']:10.3f} ms",
        f"  first run    {r['first_run_ms']:10.3f} ms  (creates the session and its arena)",
        "",
        f"Latency over {s['n']} runs (after {r['warmup']} warm-up runs)"
        + (f", capped by --max-seconds (asked for {r['runs_requested']})" if r["capped_by_time"] else ""),
        f"  median       {s['median']:10.3f} ms",
        f"  p90          {s['p90']:10.3f} ms",
        f"  p99          {s['p99']:10.3f} ms",
        f"  min / max    {s['min']:10.3f} / {s['max']:.3f} ms",
        f"  mean ± sd    {s['mean']:10.3f} ± {s['stdev']:.3f} ms",
        "",
        "Memory",
        f"  arena        {_mb(mem.get('arena_bytes'))}  "
        f"(lower bound {_mb(mem.get('arena_lower_bound_bytes'))})",
        f"  scratch      {_mb(mem.get('scratch_bytes'))}",
        f"  weights      {_mb(mem.get('weight_bytes'))}  (mmapped from the file)",
        f"  packed       {_mb(mem.get('packed_weight_bytes'))}",
        f"  RSS          {_mb(rss['before_load'])} before load, {_mb(rss['after_load'])} after load, "
        f"{_mb(rss['end'])} at the end; peak {_mb(rss['peak'])} (whole process, Python included)",
    ]
    rows = r["profile"]
    if rows:
        total = sum(float(x["ms"]) for x in rows)
        lines += [
            "",
            f"Profile by op type (median of {r['profile_runs']} profiled runs; "
            f"node times sum to {total:.3f} ms)",
            prof.op_table(rows, top),
            "",
            f"Top {min(top, len(rows))} nodes by time",
            prof.node_table(rows, top),
        ]
    return "\n".join(lines)
