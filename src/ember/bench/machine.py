"""A description of the machine a benchmark ran on: CPU, SIMD flags, memory, OS, library versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

SIMD_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "asimd",
    "asimddp",
    "sve",
)


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "Hardware") and val.strip():
            model = val.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(val.split())
    return model, flags


def _meminfo_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _caches() -> dict[str, str]:
    out: dict[str, str] = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")):
        try:
            level = (idx / "level").read_text().strip()
            kind = (idx / "type").read_text().strip()
            size = (idx / "size").read_text().strip()
        except OSError:
            continue
        name = f"L{level}" + ("d" if kind == "Data" else "i" if kind == "Instruction" else "")
        out[name] = size
    return out


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit(path: str | os.PathLike[str]) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", os.fspath(path), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", os.fspath(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def describe(libraries: tuple[str, ...] = ("numpy",)) -> dict[str, Any]:
    model, flags = _cpuinfo()
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 0
    uname = platform.uname()
    return {
        "cpu": model,
        "arch": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "simd": {f: (f in flags) for f in SIMD_FLAGS if flags},
        "caches": _caches(),
        "memory_bytes": _meminfo_bytes(),
        "os": f"{uname.system} {uname.release}",
        "distro": _distro(),
        "python": platform.python_version(),
        "libraries": {name: version(name) for name in libraries},
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "env": {
            k: os.environ[k]
            for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        },
    }


def _distro() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return None


def one_line(m: dict[str, Any]) -> str:
    simd = [f for f, on in m.get("simd", {}).items() if on]
    mem = m.get("memory_bytes")
    mem_s = f"{mem / 2**30:.0f} GiB" if mem else "? GiB"
    return (
        f"{m['cpu']} ({m['arch']}), {m['usable_cpus']} usable CPUs, {mem_s} RAM, {m['os']}; "
        f"SIMD: {' '.join(simd) or 'unknown'}"
    )
