"""Quantized vs fp32 Ember models: latency (1 thread, median of interleaved runs), file size, and output
agreement, in one run. Not a test: numbers depend on the machine and its load.

    python benchmarks/quant/bench_quant.py [--runs 20] [--models mobilenet_v2,minilm,mlp,llama_decode_step]

MobileNetV2 weights are random (BN statistics set, torchvision is not installable here) and its
calibration data is random too, so its accuracy figure only checks plumbing; accuracy on real data and
real weights is in tests/quant/test_accuracy.py.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _median_ms(mods: dict[str, Any], inputs: tuple[np.ndarray, ...], runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in mods}
    for m in mods.values():
        m(*inputs)
    for _ in range(runs):
        for k, m in mods.items():  # interleaved, so drift hits every variant alike
            t = time.perf_counter()
            m(*inputs)
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main() -> None:

    import ember
    from ember.examples import models

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--models", default="mobilenet_v2,minilm,mlp,llama_decode_step")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for name in args.models.split(","):
        if name == "mobilenet_v2":
            model, inputs = models.mobilenet_v2()
            schemes = ["int8"]
        elif name == "minilm":
            model, inputs = models.minilm(seq=128, batch=1)
            schemes = ["int8-dynamic", "int4-weight"]
        elif name == "mlp":
            model, inputs = models.mlp(sizes=(1024, 4096, 4096, 1024), batch=1)
            schemes = ["int8", "int8-dynamic", "int4-weight"]
        else:
            model, inputs = models.llama_decode_step()
            schemes = ["int8-dynamic", "int4-weight"]
        prog = ember.export(model, inputs)
        x = tuple(t.numpy() for t in inputs)
        calib = [
            tuple((rng.standard_normal(a.shape).astype(a.dtype) if a.dtype.kind == "f" else a) for a in x)
            for _ in range(4)
        ]
        mods = {"fp32": prog.load(threads=1)}
        files = {"fp32": len(prog.to_bytes())}
        qps = {}
        for s in schemes:
            q = ember.quantize(prog, calibration=calib, scheme=s)
            qps[s] = q
            mods[s] = q.load(threads=1)
            files[s] = len(q.to_bytes())
        ms = _median_ms(mods, x, args.runs)
        ref = mods["fp32"](*x)[0]
        for k in mods:
            cos = _cos(ref, mods[k](*x)[0])
            rows.append((name, k, ms[k], ms[k] / ms["fp32"], files[k] / files["fp32"], cos))
    print(f"{'model':<18} {'variant':<13} {'ms':>8} {'x fp32':>7} {'file':>6} {'cosine':>8}")
    for r in rows:
        print(f"{r[0]:<18} {r[1]:<13} {r[2]:8.2f} {r[3]:7.2f} {r[4]:6.3f} {r[5]:8.5f}")


if __name__ == "__main__":
    main()
