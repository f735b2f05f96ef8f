"""fp32 GEMM M=N=K (default 1024): Ember (a one-node `linear` graph, weights constant) against numpy's
BLAS sgemm, interleaved, one thread count per process. Ember's input is 64-byte aligned (read in place)
and its output is written straight into a result array made once; numpy also writes into one (out=).

If Intel's oneMKL is installed (`pip install -e ".[bench-mkl]"`, the `mkl` wheel), its cblas_sgemm runs as
a third system through ctypes: the vendor BLAS for this CPU family, a reference for how much of the FMA
peak a mature AVX-512 sgemm reaches on this machine. One thread runs MKL's sequential layer, more run
its GNU OpenMP layer with MKL_NUM_THREADS set.

At one thread the rotation has one more member: a ~10 ms reading of the register-only FMA loop
(ember.bench.limits.FmaLoop) per round, so each system's median can be set against the peak's median
under the same clock (`peak_same_rounds`).

Run by compare.py in a subprocess whose environment has OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed
(they are read when OpenBLAS loads and select a slower kernel on this machine); prints one JSON object,
including which kernel threadpoolctl says OpenBLAS runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np


def blas_info() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    keep = ("user_api", "internal_api", "version", "architecture", "num_threads", "threading_layer", "prefix")
    return [
        {k: v for k, v in d.items() if k in keep} for d in threadpool_info() if d.get("user_api") == "blas"
    ]


def find_mkl() -> Any:
    """ctypes handle of oneMKL's single dynamic library (the `mkl` wheel), or None when not installed."""
    import ctypes
    import importlib.metadata as md

    try:
        files = md.files("mkl") or []
    except md.PackageNotFoundError:
        return None
    for f in files:
        if f.name.startswith("libmkl_rt.so"):
            try:
                return ctypes.CDLL(str(f.locate()))
            except OSError:
                return None
    return None


def mkl_sgemm_xwt(lib: Any, x: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    """out = x @ w.T with cblas_sgemm (row-major, B transposed: the same operand layout as Ember's)."""
    import ctypes

    m, k = x.shape
    n = w.shape[0]
    row_major, no_trans, trans = 101, 111, 112
    lib.cblas_sgemm(
        row_major,
        no_trans,
        trans,
        m,
        n,
        k,
        ctypes.c_float(1.0),
        x.ctypes.data_as(ctypes.c_void_p),
        k,
        w.ctypes.data_as(ctypes.c_void_p),
        k,
        ctypes.c_float(0.0),
        out.ctypes.data_as(ctypes.c_void_p),
        n,
    )


def mkl_version(lib: Any) -> str:
    import ctypes

    buf = ctypes.create_string_buffer(256)
    try:
        lib.mkl_get_version_string(buf, len(buf))
    except AttributeError:
        return "oneMKL"
    return buf.value.decode(errors="replace").strip()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds of timed Ember runs at most")
    ap.add_argument("--min-runs", type=int, default=5)
    args = ap.parse_args()

    import ember
    from ember.bench.stats import summarize
    from ember.ir.dtypes import DType
    from ember.ir.graph import Graph
    from ember.passes.pipeline import compile_graph

    n, t = args.size, args.threads
    # read by oneMKL when it loads, so set before find_mkl()
    os.environ["MKL_THREADING_LAYER"] = "SEQUENTIAL" if t == 1 else "GNU"
    os.environ["MKL_NUM_THREADS"] = str(t)
    blas = blas_info()  # numpy's own BLAS: asked before oneMKL is loaded, which threadpoolctl would list too
    mkl = find_mkl()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n), dtype=np.float32)
    w = rng.standard_normal((n, n), dtype=np.float32)  # (out, in), as torch.nn.Linear
    wt = w.T  # numpy: x @ w.T, a transposed-operand sgemm

    g = Graph()
    xin = g.add_input("x", DType.from_numpy(x.dtype), x.shape)
    g.outputs = g.add_node("linear", [xin, g.const(w, "weight")])
    mod = compile_graph(g).load(threads=t)

    try:
        from threadpoolctl import threadpool_limits

        limiter: Any = threadpool_limits(limits=t, user_api="blas")
    except ImportError:
        limiter = None

    ref = x.astype(np.float64) @ w.T.astype(np.float64)
    y_np = x @ wt
    y_em = mod(x)[0]
    scale = float(np.abs(ref).max())
    err = {"numpy": float(np.abs(y_np - ref).max()), "ember": float(np.abs(y_em - ref).max())}
    y_mkl_out = np.empty((n, n), np.float32)
    if mkl is not None:
        mkl_sgemm_xwt(mkl, x, w, y_mkl_out)
        err["mkl"] = float(np.abs(y_mkl_out - ref).max())
        if not err["mkl"] <= 1e-3 * scale:  # a wrong binding must not be timed as a peer
            raise SystemExit(
                f"oneMKL's sgemm disagrees with the float64 product (max abs err {err['mkl']:.3g})"
            )

    # both write into a result array made once (numpy's out=, Ember's run(out=)), so neither pays for
    # allocating and first-touching 4 MiB per call
    y_np_out = np.empty((n, n), np.float32)
    y_em_out = ember.aligned_empty((n, n), np.float32)

    def run_np() -> None:
        np.matmul(x, wt, out=y_np_out)

    # Ember reads an input in place when it starts on a 64-byte boundary (else it copies it into its
    # arena first); numpy's 4 MiB array is only 16-byte aligned, so Ember gets an aligned copy made
    # once here, as a caller who cares about the copy would allocate it (ember.aligned_empty)
    xa = ember.aligned_empty(x.shape, x.dtype)
    xa[...] = x

    def run_em() -> None:
        mod.run(xa, out=(y_em_out,))

    fns = {"ember": run_em, "numpy": run_np}
    if mkl is not None:
        fns["mkl"] = lambda: mkl_sgemm_xwt(mkl, x, w, y_mkl_out)
    # one thread: the FMA peak is read in the same rotation (one ~10 ms register-only FMA loop per
    # round), so that the GEMM's share of it compares runs made under the same clock
    fma: Any = None
    peak_note = ""
    if t == 1:
        try:
            from ember.bench.limits import FmaLoop

            fma = FmaLoop()
        except (OSError, RuntimeError) as exc:
            peak_note = f"no same-round peak: {exc}"
    peak_readings: list[float] = []
    est: dict[str, float] = {}
    for key, fn in fns.items():
        ts = []
        t_end = time.perf_counter() + 3.0
        for _ in range(max(1, args.warmup)):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
            if time.perf_counter() > t_end:
                break
        est[key] = float(np.median(ts))
    plan = {
        k: args.runs if est[k] * args.runs <= args.budget else max(args.min_runs, int(args.budget / est[k]))
        for k in fns
    }
    plan = {k: min(v, args.runs) for k, v in plan.items()}
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(args.runs):
        keys = list(fns) + (["peak"] if fma is not None else [])
        keys = keys[r % len(keys) :] + keys[: r % len(keys)]
        for k in keys:
            if k == "peak":
                peak_readings.append(fma.reading())
            elif (r + 1) * plan[k] // args.runs > r * plan[k] // args.runs:
                t0 = time.perf_counter_ns()
                fns[k]()
                samples[k].append((time.perf_counter_ns() - t0) / 1e6)
    flops = 2.0 * n * n * n
    out: dict[str, Any] = {
        "size": n,
        "threads": t,
        "blas": blas,
        "env": {
            k: os.environ[k]
            for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_THREAD_TIMEOUT")
            if k in os.environ
        },
        "result_scale": scale,
        "mkl": None if mkl is None else mkl_version(mkl),
        "systems": {},
    }
    if peak_readings:
        out["peak_same_rounds"] = {
            "isa": "AVX-512" if fma.avx512 else "AVX2",
            "readings": len(peak_readings),
            "ms_per_reading": fma.iters * fma.flops_per_iter / float(np.median(peak_readings)) / 1e6,
            "gflops_median": float(np.median(peak_readings)),
            "gflops_best": float(max(peak_readings)),
        }
    elif peak_note:
        out["peak_same_rounds"] = {"note": peak_note}
    for k, s in samples.items():
        st = summarize(s)
        out["systems"][k] = {
            "stats_ms": st.as_dict(),
            "gflops_median": flops / (st.median * 1e-3) / 1e9,
            "max_abs_err_vs_float64": err[k],
            "runs": len(s),
            "planned_runs": plan[k],
        }
    if limiter is not None:
        limiter.restore_original_limits()
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
