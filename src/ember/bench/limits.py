"""This machine's limits, measured by small C programs compiled at run time (gcc or cc):

- fp32 FMA peak, one thread: independent chains of `_mm256_fmadd_ps` (12 chains, enough to cover the
  FMA latency on two ports), GFLOP/s = iterations x chains x 8 lanes x 2 flops / seconds, best of N.
  An AVX-512 variant is measured too where the CPU has avx512f (reported, not used as the reference).
- Memory read bandwidth: a streaming sum over a buffer much larger than the last-level cache, with 1
  and 2 threads, best pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

C_SOURCE = r"""
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#if defined(USE512)
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define ADD _mm512_add_ps
static float first(vec v) { return _mm512_cvtss_f32(v); }
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMADD _mm256_fmadd_ps
#define ADD _mm256_add_ps
static float first(vec v) { return _mm256_cvtss_f32(v); }
#endif
#define CHAINS 12

__attribute__((noinline)) static float fma_loop(long iters, float seed) {
    vec b = SET1(0.9999999f), c = SET1(1e-7f);
    vec a0 = SET1(seed), a1 = SET1(seed + 1), a2 = SET1(seed + 2), a3 = SET1(seed + 3);
    vec a4 = SET1(seed + 4), a5 = SET1(seed + 5), a6 = SET1(seed + 6), a7 = SET1(seed + 7);
    vec a8 = SET1(seed + 8), a9 = SET1(seed + 9), a10 = SET1(seed + 10), a11 = SET1(seed + 11);
    for (long i = 0; i < iters; i++) {
        a0 = FMADD(a0, b, c); a1 = FMADD(a1, b, c); a2 = FMADD(a2, b, c); a3 = FMADD(a3, b, c);
        a4 = FMADD(a4, b, c); a5 = FMADD(a5, b, c); a6 = FMADD(a6, b, c); a7 = FMADD(a7, b, c);
        a8 = FMADD(a8, b, c); a9 = FMADD(a9, b, c); a10 = FMADD(a10, b, c); a11 = FMADD(a11, b, c);
    }
    vec s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));
    return first(s);
}

/* the same loop as a library entry point, for peak readings interleaved with other work (FmaLoop) */
float ember_fma_loop(long iters, float seed) { return fma_loop(iters, seed); }

typedef struct { const float *p; size_t n; double sum; } job;

static void *read_part(void *arg) {
    job *j = (job *)arg;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 32 <= j->n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_load_ps(j->p + i));
        s1 = _mm256_add_ps(s1, _mm256_load_ps(j->p + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_load_ps(j->p + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_load_ps(j->p + i + 24));
    }
    j->sum = _mm256_cvtss_f32(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    return NULL;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "fma") == 0) {
        long iters = atol(argv[2]);
        int trials = atoi(argv[3]);
        double best = 0, sink = 0;
        for (int t = 0; t < trials; t++) {
            double t0 = now();
            sink += fma_loop(iters, 1.0f + t);
            double dt = now() - t0;
            double gf = (double)iters * CHAINS * LANES * 2 / dt / 1e9;
            if (gf > best) best = gf;
        }
        printf("%.3f %g\n", best, sink);
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "bw") == 0) {
        size_t bytes = (size_t)atoll(argv[2]);
        int passes = atoi(argv[3]), threads = atoi(argv[4]);
        if (threads < 1 || threads > 64) return 2;
        size_t n = bytes / sizeof(float) / 32 / threads * 32 * threads;
        float *buf = aligned_alloc(64, n * sizeof(float));
        if (!buf) return 3;
        for (size_t i = 0; i < n; i++) buf[i] = 1.0f;
        double best = 0, sink = 0;
        for (int p = 0; p < passes; p++) {
            job jobs[64];
            pthread_t tid[64];
            double t0 = now();
            for (int t = 0; t < threads; t++) {
                jobs[t].p = buf + n / threads * t;
                jobs[t].n = n / threads;
                if (t) pthread_create(&tid[t], NULL, read_part, &jobs[t]);
            }
            read_part(&jobs[0]);
            for (int t = 1; t < threads; t++) pthread_join(tid[t], NULL);
            double dt = now() - t0;
            for (int t = 0; t < threads; t++) sink += jobs[t].sum;
            double gbs = (double)n * sizeof(float) / dt / 1e9;
            if (gbs > best) best = gbs;
        }
        printf("%.3f %g\n", best, sink);
        free(buf);
        return 0;
    }
    fprintf(stderr, "usage: limits fma ITERS TRIALS | limits bw BYTES PASSES THREADS\n");
    return 2;
}
"""


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "gcc")) or shutil.which("gcc") or shutil.which("cc")


def _build(workdir: Path, extra: list[str], name: str) -> tuple[Path | None, str]:
    cc = _compiler()
    if cc is None:
        return None, "no C compiler (gcc or cc) on PATH"
    src = workdir / "limits.c"
    src.write_text(C_SOURCE)
    exe = workdir / name
    cmd = [cc, "-O2", "-mavx2", "-mfma", *extra, "-pthread", "-o", str(exe), str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return None, f"{' '.join(cmd)} failed: {res.stderr.strip()[:500]}"
    return exe, " ".join(["gcc" if "gcc" in cc else cc, *cmd[1:-3]])


def _run(exe: Path, *args: str, timeout: float = 120) -> float:
    out = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, check=True)
    return float(out.stdout.split()[0])


def _has_flag(flag: str) -> bool:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return flag in line.split()
    except OSError:
        pass
    return False


def measure(
    fma_seconds: float = 0.1,
    trials: int = 15,
    bw_bytes: int = 1 << 30,
    bw_passes: int = 5,
    bw_threads: tuple[int, ...] = (1, 2),
) -> dict[str, Any]:
    """{fma_avx2_gflops, fma_avx512_gflops?, bandwidth_gbs: {threads: GB/s}, notes}. x86-64 only."""
    import platform

    result: dict[str, Any] = {"notes": []}
    if platform.machine() not in ("x86_64", "AMD64"):
        result["notes"].append(f"limits are measured with AVX2 code; this machine is {platform.machine()}")
        return result
    with tempfile.TemporaryDirectory(prefix="ember-limits-") as tmp:
        exe, info = _build(Path(tmp), [], "limits_avx2")
        if exe is None:
            result["notes"].append(info)
            return result
        result["compile"] = info
        # calibrate: ~fma_seconds per trial (one 12-chain iteration is ~6 cycles on 2 FMA ports)
        probe = 2_000_000
        gf = _run(exe, "fma", str(probe), "3")
        iters = max(probe, int(fma_seconds * gf * 1e9 / (12 * 8 * 2)))
        result["fma_avx2_gflops"] = _run(exe, "fma", str(iters), str(trials))
        result["trials"] = trials
        result["fma_iterations"] = iters
        if _has_flag("avx512f"):
            exe512, info512 = _build(Path(tmp), ["-mavx512f", "-DUSE512"], "limits_avx512")
            if exe512 is not None:
                result["fma_avx512_gflops"] = _run(exe512, "fma", str(iters // 2), str(trials))
            else:
                result["notes"].append(info512)
        result["bandwidth_bytes"] = bw_bytes
        result["bandwidth_gbs"] = {
            str(t): _run(exe, "bw", str(bw_bytes), str(bw_passes), str(t), timeout=300) for t in bw_threads
        }
    return result


class FmaLoop:
    """The register-only FMA loop of `measure` loaded in-process (a shared library built at run time),
    so that peak readings can be taken in rotation with the runs they are compared to: on a shared VM
    the clock drifts by several percent over minutes, and a GEMM timed now measured against a peak
    read minutes earlier mixes that drift into the ratio. `reading()` times one call of `seconds`
    and returns GFLOP/s. AVX-512 when the CPU has it (what Ember's GEMM runs), else AVX2."""

    def __init__(self, seconds: float = 0.01) -> None:
        import ctypes

        self.avx512 = _has_flag("avx512f")
        self.lanes = 16 if self.avx512 else 8
        with tempfile.TemporaryDirectory(prefix="ember-fma-") as tmp:
            flags = ["-mavx512f", "-DUSE512"] if self.avx512 else []
            lib, info = _build(Path(tmp), [*flags, "-shared", "-fPIC"], "libfma.so")
            if lib is None:
                raise RuntimeError(f"the FMA loop is compiled at run time: {info}")
            self._lib = ctypes.CDLL(str(lib))  # mapped: the file may go with the directory
        self._fn = self._lib.ember_fma_loop
        self._fn.argtypes = [ctypes.c_long, ctypes.c_float]
        self._fn.restype = ctypes.c_float
        self.flops_per_iter = 12 * self.lanes * 2
        probe = 200_000
        self.iters = probe
        gf = max(self.reading() for _ in range(3))
        self.iters = max(probe, int(seconds * gf * 1e9 / self.flops_per_iter))

    def reading(self) -> float:
        import time

        t0 = time.perf_counter_ns()
        self._fn(self.iters, 1.0)
        return self.iters * self.flops_per_iter / (time.perf_counter_ns() - t0)


def best_of(*results: dict[str, Any]) -> dict[str, Any]:
    """Merge several `measure()` results taking the best of each figure (a peak is a maximum; on a shared
    machine a lower reading means someone else had the core). The separate readings stay under 'readings'."""
    rs = [r for r in results if r]
    if not rs:
        return {"notes": ["no measurement"]}
    out: dict[str, Any] = {
        k: v for k, v in rs[-1].items() if k not in ("fma_avx2_gflops", "fma_avx512_gflops")
    }
    for key in ("fma_avx2_gflops", "fma_avx512_gflops"):
        vals = [r[key] for r in rs if key in r]
        if vals:
            out[key] = max(vals)
    bws: dict[str, float] = {}
    for r in rs:
        for t, v in (r.get("bandwidth_gbs") or {}).items():
            bws[t] = max(bws.get(t, 0.0), v)
    if bws:
        out["bandwidth_gbs"] = bws
    out["notes"] = sorted({n for r in rs for n in r.get("notes", [])})
    out["readings"] = [
        {k: r.get(k) for k in ("fma_avx2_gflops", "fma_avx512_gflops", "bandwidth_gbs")} for r in rs
    ]
    return out


if __name__ == "__main__":  # pragma: no cover - manual use
    import json

    print(json.dumps(measure(), indent=2))
