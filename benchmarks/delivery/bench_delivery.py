"""Delivery benchmark: what a "no update" check costs a device, and how fast the dev server updates a
simulated fleet on loopback.

    PYTHONPATH=src python benchmarks/delivery/bench_delivery.py [--devices 1000] [--workers 8]

Writes its figures into benchmarks/RESULTS.md between `<!-- delivery:start -->` and
`<!-- delivery:end -->` (only that section is replaced). Server and devices share this process and
its cores (the GIL), so fleet figures are a floor for the dev server, not a CDN.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "delivery")]

from fleet import Fleet  # noqa: E402  (simulated devices, shared with the fleet test)
from standin import load_npz_model, make_model  # noqa: E402

from ember.bench.results_md import write_section  # noqa: E402
from ember.delivery import DeviceClient, Registry, RegistryConfig, SmokeTest, VariantSpec, serve  # noqa: E402
from ember.delivery.device import DeviceProfile  # noqa: E402

START, END = "<!-- delivery:start -->", "<!-- delivery:end -->"
X86 = DeviceProfile(frozenset({"avx2", "fma"}), 8192, "0.1.0", 1)


def _client(tmp: Path, name: str, url: str, root: bytes) -> DeviceClient:
    return DeviceClient(
        tmp / name, url, root, profile=X86, smoke_test=SmokeTest(load_npz_model), report=False
    )


def no_update_cost(tmp: Path, reg: Registry, url: str, root: bytes, repeats: int = 50) -> dict:
    """Requests, bytes and time of one check when nothing changed, and when only the timestamp or
    the rollout state changed (what a device pays between releases)."""
    _client(tmp, "probe", url, root).update("m")
    out = {}
    for label, change in (
        ("nothing changed", None),
        ("timestamp re-signed", lambda: reg.refresh()),
        ("rollout state changed", lambda: reg.rollout("m", 100)),
    ):
        reqs, nbytes, times = [], [], []
        for _ in range(repeats if change is None else 10):
            if change:
                change()
            c = _client(tmp, "probe", url, root)
            t0 = time.perf_counter()
            assert c.update("m").status == "up-to-date"
            times.append(time.perf_counter() - t0)
            reqs.append(c.stats.requests)
            nbytes.append(c.stats.bytes_received)
        out[label] = {
            "requests": statistics.median(reqs),
            "bytes": statistics.median(nbytes),
            "ms": 1000 * statistics.median(times),
        }
    return out


def big_download(tmp: Path, reg: Registry, url: str, root: bytes, mb: int = 32) -> dict:
    m, s = make_model(tmp, "big", 9, pad=mb * 1024 * 1024)
    reg.publish("big", "1.0", [VariantSpec("generic", m, s)], percent=100)
    c = _client(tmp, "bigdev", url, root)
    t0 = time.perf_counter()
    c.update("big")
    dt = time.perf_counter() - t0
    size = m.stat().st_size
    return {"bytes": size, "seconds": dt, "MBps": size / dt / 1e6}


def fleet_run(tmp: Path, n: int, workers: int) -> dict:
    cfg = RegistryConfig(auto_halt_min_reports=10**9)  # no halts in the benchmark
    reg = Registry.init(tmp / "freg", tmp / "foff", config=cfg)
    root = reg.root_bytes()
    m1, s1 = make_model(tmp, "f1", 1)
    m2, s2 = make_model(tmp, "f2", 2)
    reg.publish("m", "1.0", [VariantSpec("generic", m1, s1)], percent=100)
    server = serve(reg)
    try:
        fleet = Fleet(tmp / "fleet", server.url, root, n)
        phases = {}
        for label, action in (
            ("first install (bootstrap + download)", None),
            ("no-update sweep", None),
            (
                "new release to 100%",
                lambda: reg.publish("m", "1.1", [VariantSpec("generic", m2, s2)], percent=100),
            ),
        ):
            if action:
                action()
            before = dict(server.counts)
            r = fleet.check_all(workers)
            reqs = server.counts["requests"] - before["requests"]
            sent = server.counts["bytes_sent"] - before["bytes_sent"]
            phases[label] = {
                "devices": n,
                "seconds": r["seconds"],
                "checks_per_s": n / r["seconds"],
                "server_requests_per_s": reqs / r["seconds"],
                "server_MB": sent / 1e6,
                "statuses": r["statuses"],
            }
        return phases
    finally:
        server.stop()


def render(nu: dict, big: dict, fleet: dict, n: int, workers: int) -> str:
    lines = [
        START,
        "## Delivery (model updates over TUF)",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; "
        "`PYTHONPATH=src python benchmarks/delivery/bench_delivery.py`. Loopback HTTP, dev server "
        "(`ember registry serve`) and devices in one process.",
        "",
        "Cost of one update check when there is nothing to install (fresh `DeviceClient`, medians):",
        "",
        "| situation | requests | bytes received | time (ms) |",
        "|---|---:|---:|---:|",
    ]
    for label, v in nu.items():
        lines.append(f"| {label} | {v['requests']:.0f} | {v['bytes']:.0f} | {v['ms']:.1f} |")
    lines += [
        "",
        f"Simulated fleet: {n} devices (own cache, id and hardware profile each), {workers} at a time:",
        "",
        "| phase | seconds | device checks/s | server requests/s | server MB sent | outcomes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, v in fleet.items():
        outcomes = ", ".join(f"{k} {c}" for k, c in sorted(v["statuses"].items()))
        lines.append(
            f"| {label} | {v['seconds']:.1f} | {v['checks_per_s']:.0f} | {v['server_requests_per_s']:.0f} | "
            f"{v['server_MB']:.2f} | {outcomes} |"
        )
    lines += [
        "",
        f"One {big['bytes'] / 1e6:.0f} MB variant, download + hash check + smoke test + activation: "
        f"{big['seconds']:.2f} s ({big['MBps']:.0f} MB/s).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        reg = Registry.init(tmp / "reg", tmp / "off")
        root = reg.root_bytes()
        m, s = make_model(tmp, "v1", 1)
        reg.publish("m", "1.0", [VariantSpec("generic", m, s)], percent=100)
        server = serve(reg)
        try:
            nu = no_update_cost(tmp, reg, server.url, root)
            big = big_download(tmp, reg, server.url, root)
        finally:
            server.stop()
        fleet = fleet_run(tmp, args.devices, args.workers)
    text = render(nu, big, fleet, args.devices, args.workers)
    print(text)
    if not args.no_write:
        write_section(args.results, text.rstrip("\n"), START, END)
        print(f"wrote section into {args.results}")


if __name__ == "__main__":
    main()
