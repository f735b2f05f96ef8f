#!/usr/bin/env python
"""Ember side by side with PyTorch eager, ExecuTorch+XNNPACK and ONNX Runtime (fp32, CPU).

    python benchmarks/compare.py                      # everything (~15 min on the 2-core machine)
    python benchmarks/compare.py --quick              # MLP + decode step, 10 runs, 1 thread, no RESULTS.md
    python benchmarks/compare.py --models mobilenet_v2,mlp --systems ember,ort --threads 1 --runs 20

Protocol, per model and thread count: every system gets the same inputs; each system's outputs are
checked against PyTorch eager before any timing (a system that disagrees is reported as wrong and not
timed); warm-up; then rounds, each running every system once in a rotating order (interleaved), so
that drift on a shared machine hits every system alike. A system slower than `--budget` / `--runs`
seconds per run (today: Ember's reference kernels) is timed on fewer rounds, spread evenly over all
of them, at least `--min-runs`; the report says so. Statistics: median, p90 (and p99 in the JSON);
ratio = system median / Ember median (> 1: Ember is faster).

Also measured: the fp32 FMA peak and memory bandwidth (C programs compiled at run time), and fp32 GEMM
1024^3 by Ember against numpy's OpenBLAS sgemm (and oneMKL's, when installed), with the FMA peak read
again inside the 1-thread GEMM rotation, one reading per round, for the GEMM's share of it. Writes
benchmarks/results/compare.json, benchmarks/results/compare.png and the section between
`<!-- compare:start -->` and `<!-- compare:end -->` in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from peers.base import Case, Runner, System  # noqa: E402

from ember.bench.stats import summarize  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
MD_START, MD_END = "<!-- compare:start -->", "<!-- compare:end -->"
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ------------------------------------------------------------------------------------------ models
@dataclass(frozen=True)
class ModelSpec:
    key: str
    title: str
    factory: str  # a function in ember.examples.models
    kwargs: tuple[tuple[str, Any], ...]
    tol: float = 1e-3  # max |err| <= tol * max(1, max |reference|)
    short: str = ""  # label in the plot

    def build(self) -> tuple[Any, tuple[Any, ...]]:
        from ember.examples import models

        return getattr(models, self.factory)(**dict(self.kwargs))


LLAMA = (("layers", 8), ("dim", 512), ("heads", 8), ("hidden", 1376), ("vocab", 32000))
MODELS: dict[str, ModelSpec] = {
    m.key: m
    for m in (
        ModelSpec(
            "mobilenet_v2", "MobileNetV2 224x224", "mobilenet_v2", (("resolution", 224),), short="MobileNetV2"
        ),
        ModelSpec("resnet18", "ResNet-18 224x224", "resnet18", (("resolution", 224),), short="ResNet-18"),
        ModelSpec(
            "minilm",
            "all-MiniLM-L6-v2 seq 128",
            "minilm",
            (("seq", 128), ("batch", 1)),
            short="MiniLM\nseq 128",
        ),
        ModelSpec(
            "llama_prefill",
            "Llama 8L d512 prefill 64",
            "llama_decoder",
            (*LLAMA, ("seq", 64)),
            short="Llama\nprefill 64",
        ),
        ModelSpec(
            "llama_decode",
            "Llama 8L d512 decode (KV 128)",
            "llama_decode_step",
            (*LLAMA, ("past", 128)),
            short="Llama\ndecode",
        ),
        ModelSpec(
            "mlp",
            "MLP 1024-4096-4096-1000",
            "mlp",
            (("sizes", (1024, 4096, 4096, 1000)), ("batch", 1)),
            short="MLP",
        ),
    )
}
QUICK_MODELS = ("mlp", "llama_decode")
SYSTEM_ORDER = ("ember", "torch", "executorch", "ort")


# -------------------------------------------------------------------------------- output checking
@dataclass(frozen=True)
class Check:
    ok: bool
    max_abs_err: float
    scale: float
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "max_abs_err": self.max_abs_err, "scale": self.scale, "message": self.message}


def check_outputs(reference: Sequence[np.ndarray], got: Sequence[Any], tol: float) -> Check:
    """Compare every output with PyTorch's: same count, same shape, finite, and
    max |got - ref| <= tol * max(1, max |ref|)."""
    if len(got) != len(reference):
        return Check(False, float("inf"), 0.0, f"{len(got)} outputs, PyTorch gives {len(reference)}")
    worst, scale = 0.0, 1.0
    for i, (r, g) in enumerate(zip(reference, got)):
        r = np.asarray(r)
        g = np.asarray(g)
        if g.shape != r.shape:
            return Check(
                False, float("inf"), 0.0, f"output {i}: shape {list(g.shape)}, PyTorch {list(r.shape)}"
            )
        if r.size == 0:
            continue
        rf, gf = r.astype(np.float64), g.astype(np.float64)
        if not np.all(np.isfinite(gf[np.isfinite(rf)])):
            return Check(False, float("inf"), 0.0, f"output {i}: NaN or inf where PyTorch is finite")
        worst = max(worst, float(np.max(np.abs(gf - rf))))
        scale = max(scale, float(np.max(np.abs(rf))))
    limit = tol * scale
    if worst > limit:
        return Check(
            False, worst, scale, f"max abs error {worst:.3g} > {limit:.3g} (tol {tol:g} x {scale:.3g})"
        )
    return Check(True, worst, scale, "ok")


def verify_systems(
    runners: dict[str, Runner], reference: Sequence[np.ndarray], tol: float
) -> tuple[dict[str, Runner], dict[str, dict[str, Any]]]:
    """Run each system once and check it. Returns (the runners that agree with PyTorch, every check)."""
    good: dict[str, Runner] = {}
    checks: dict[str, dict[str, Any]] = {}
    for key, run in runners.items():
        try:
            c = check_outputs(reference, run(), tol)
        except Exception as exc:  # noqa: BLE001 - a crashing system is reported, not fatal
            checks[key] = {
                "ok": False,
                "max_abs_err": None,
                "message": f"run failed: {type(exc).__name__}: {exc}",
            }
            continue
        checks[key] = c.as_dict()
        if c.ok:
            good[key] = run
    return good, checks


# ----------------------------------------------------------------------------------------- timing
@dataclass
class Timing:
    samples_ms: list[float]
    planned: int
    warmup: int
    estimate_ms: float


def plan_runs(estimate_s: float, runs: int, budget_s: float, min_runs: int) -> int:
    """How many of the `runs` rounds a system takes part in: all of them unless that would exceed the
    time budget, then as many as fit, never fewer than `min_runs`."""
    if estimate_s * runs <= budget_s:
        return runs
    return min(runs, max(min_runs, int(budget_s / max(estimate_s, 1e-9))))


def in_round(r: int, planned: int, runs: int) -> bool:
    """Spread `planned` participations evenly over rounds 0..runs-1."""
    return (r + 1) * planned // runs > r * planned // runs


def time_interleaved(
    runners: dict[str, Runner],
    runs: int,
    warmup: int,
    budget_s: float,
    min_runs: int,
    warmup_budget_s: float = 5.0,
    advance: Callable[[], None] | None = None,
    gap_s: float = 0.0,
) -> dict[str, Timing]:
    """Warm up each system, plan its runs (see plan_runs), then time `runs` rounds. A pause of `gap_s`
    after each run (not timed) lets the previous system's worker threads go idle first. Python's
    garbage collector is off meanwhile (collected once before): otherwise a collection over the heap
    of four loaded frameworks (several ms) lands inside whichever run allocates next, which measured as
    2x outliers at p90 for every system."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _time_rounds(runners, runs, warmup, budget_s, min_runs, warmup_budget_s, advance, gap_s)
    finally:
        if was_enabled:
            gc.enable()


def _time_rounds(
    runners: dict[str, Runner],
    runs: int,
    warmup: int,
    budget_s: float,
    min_runs: int,
    warmup_budget_s: float,
    advance: Callable[[], None] | None,
    gap_s: float,
) -> dict[str, Timing]:
    keys = list(runners)
    est: dict[str, float] = {}
    done_warmup: dict[str, int] = {}
    for k in keys:  # warm-up: `warmup` runs, fewer (at least one) when a run is slow
        ts: list[float] = []
        t_end = time.perf_counter() + warmup_budget_s
        for _ in range(max(1, warmup)):
            t0 = time.perf_counter()
            runners[k]()
            ts.append(time.perf_counter() - t0)
            if time.perf_counter() > t_end:
                break
        est[k] = float(np.median(ts))
        done_warmup[k] = len(ts)
    plan = {k: plan_runs(est[k], runs, budget_s, min_runs) for k in keys}
    samples: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(runs):
        order = keys[r % len(keys) :] + keys[: r % len(keys)]
        for k in order:
            if in_round(r, plan[k], runs):
                t0 = time.perf_counter_ns()
                runners[k]()
                samples[k].append((time.perf_counter_ns() - t0) / 1e6)
                if gap_s > 0:
                    time.sleep(gap_s)
        if advance is not None:
            advance()
    return {k: Timing(samples[k], plan[k], done_warmup[k], est[k] * 1e3) for k in keys}


# --------------------------------------------------------------------------------------- progress
class Progress:
    """rich progress bars on stderr (tqdm, or plain lines, when rich is missing)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.enabled = enabled
        self._rich: Any = None
        self._tqdm: Any = None
        self._overall: Any = None
        self.total = total
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._rich.start()
            self._overall = self._rich.add_task("models x threads", total=total)
        except ImportError:
            try:
                from tqdm import tqdm

                self._tqdm = tqdm
                self._overall = tqdm(total=total, desc="models x threads", file=sys.stderr)
            except ImportError:
                pass

    def log(self, msg: str) -> None:
        if self._rich is not None:
            self._rich.console.print(msg, markup=False, highlight=False, soft_wrap=True)
        elif self._tqdm is not None:
            self._tqdm.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def step(self) -> None:
        if self._rich is not None:
            self._rich.advance(self._overall)
        elif self._overall is not None:
            self._overall.update(1)

    @contextmanager
    def task(self, desc: str, total: int) -> Iterator[Callable[[], None]]:
        if self._rich is not None:
            t = self._rich.add_task(desc, total=total)
            try:
                yield lambda: self._rich.advance(t)
            finally:
                self._rich.remove_task(t)
        elif self._tqdm is not None:
            bar = self._tqdm(total=total, desc=desc, file=sys.stderr, leave=False)
            try:
                yield lambda: bar.update(1)
            finally:
                bar.close()
        else:
            yield lambda: None

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self._overall is not None:
            self._overall.close()


# ------------------------------------------------------------------------------------ the run
def make_systems(
    keys: Sequence[str], ort_spin: bool, cache_dir: Path | None = None
) -> tuple[list[System], dict[str, str]]:
    from peers import SYSTEMS
    from peers.ort_peer import OrtSystem

    systems: list[System] = []
    skipped: dict[str, str] = {}
    for k in keys:
        s: System = OrtSystem(spin=ort_spin) if k == "ort" else SYSTEMS[k]()
        if k in ("executorch", "ort"):  # slow converters; Ember always re-exports (its passes change)
            s.cache_dir = cache_dir
        why = s.unavailable()
        if why:
            skipped[k] = why
        else:
            systems.append(s)
    return systems, skipped


def fingerprint(spec: ModelSpec, model: Any, inputs: Sequence[Any]) -> str:
    """A hash of everything a converted file depends on: the model factory's code and arguments, the
    module structure, every weight and buffer, the inputs, and the torch/transformers versions."""
    import hashlib

    import torch

    from ember.bench.machine import version
    from ember.examples import models

    h = hashlib.sha256()
    h.update(repr((spec.key, spec.factory, spec.kwargs, torch.__version__, version("transformers"))).encode())
    h.update(Path(models.__file__).read_bytes())
    h.update(repr(model).encode())
    tensors = list(model.state_dict().items()) + [(f"input{i}", x) for i, x in enumerate(inputs)]
    for name, t in tensors:
        a = np.ascontiguousarray(t.detach().cpu().numpy())
        h.update(f"{name}:{a.dtype}:{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def streamed_bytes(case: Case) -> int:
    """Bytes one inference must read at least: every parameter and buffer except embedding tables (a
    lookup reads a few rows), plus the inputs. For the decode step this is the memory-bound floor."""
    from torch import nn

    skip = {id(m.weight) for m in case.model.modules() if isinstance(m, nn.Embedding)}
    seen: set[int] = set()
    total = 0
    for t in [*case.model.parameters(), *case.model.buffers()]:
        if id(t) in skip or id(t) in seen:
            continue
        seen.add(id(t))
        total += t.numel() * t.element_size()
    return total + sum(a.nbytes for a in case.np_inputs)


def torch_reference(case: Case) -> list[np.ndarray]:
    import torch
    from peers.base import flatten_outputs

    with torch.inference_mode():
        return [np.array(o.numpy()) for o in flatten_outputs(case.model(*case.inputs))]


def bench_model(
    spec: ModelSpec, systems: list[System], args: argparse.Namespace, ui: Progress, workdir: Path
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(max(args.threads))
    t0 = time.perf_counter()
    model, inputs = spec.build()
    case = Case(spec.key, spec.title, model, tuple(inputs))
    if args.cache_dir is not None:
        case.fingerprint = fingerprint(spec, model, case.inputs)
    out: dict[str, Any] = {
        "title": spec.title,
        "short": spec.short or spec.title,
        "build_s": time.perf_counter() - t0,
        "inputs": [f"{a.dtype}{list(a.shape)}" for a in case.np_inputs],
        "tol": spec.tol,
        "prepare": {},
        "threads": {},
    }
    reference = torch_reference(case)
    out["outputs"] = [f"{a.dtype}{list(a.shape)}" for a in reference]
    out["streamed_bytes"] = streamed_bytes(case)
    ready: list[System] = []
    for s in systems:
        ui.log(f"[{spec.key}] preparing {s.title}")
        try:
            torch.set_num_threads(max(args.threads))
            out["prepare"][s.key] = {"ok": True, **s.prepare(case, workdir)}
            ready.append(s)
        except Exception as exc:  # noqa: BLE001 - one system failing to convert is a result
            out["prepare"][s.key] = {
                "ok": False,
                "error": f"{type(exc).__name__}: {str(exc)[:2000]}",
                "traceback": traceback.format_exc()[-4000:],
            }
            ui.log(
                f"[{spec.key}] {s.title} could not convert the model: {type(exc).__name__}: {str(exc)[:300]}"
            )

    for threads in args.threads:
        res: dict[str, Any] = {"systems": {}}
        runners: dict[str, Runner] = {}
        for s in ready:
            try:
                s.set_threads(threads)
                runners[s.key] = s.load(case, threads)
                note = getattr(s, "thread_note", None)
                res["systems"][s.key] = {"thread_note": note} if note else {}
            except Exception as exc:  # noqa: BLE001
                res["systems"][s.key] = {"status": "failed", "error": f"load: {type(exc).__name__}: {exc}"}
        good, checks = verify_systems(runners, reference, spec.tol)
        for k, c in checks.items():
            res["systems"][k]["check"] = c
            if not c["ok"]:
                res["systems"][k]["status"] = "wrong" if c.get("max_abs_err") is not None else "failed"
                ui.log(f"[{spec.key}] {k} at {threads} thread(s): {c['message']} -> not timed")
        with ui.task(f"{spec.key} x{threads} thread(s)", args.runs) as advance:
            timings = time_interleaved(
                good,
                args.runs,
                args.warmup,
                args.budget,
                args.min_runs,
                args.warmup_budget,
                advance,
                args.gap_ms / 1e3,
            )
        ember_med = None
        if "ember" in timings and timings["ember"].samples_ms:
            ember_med = summarize(timings["ember"].samples_ms).median
        for k, tm in timings.items():
            st = summarize(tm.samples_ms)
            res["systems"][k].update(
                {
                    "status": "ok",
                    "runs": st.n,
                    "planned_runs": tm.planned,
                    "capped": tm.planned < args.runs,
                    "warmup_runs": tm.warmup,
                    "stats_ms": st.as_dict(),
                    "ratio_to_ember": (st.median / ember_med) if ember_med else None,
                    "samples_ms": tm.samples_ms,
                }
            )
        out["threads"][str(threads)] = res
        ui.log(
            f"[{spec.key}] {threads} thread(s): "
            + ", ".join(
                f"{k} {v['stats_ms']['median']:.2f} ms" + (f" ({v['runs']} runs)" if v.get("capped") else "")
                for k, v in res["systems"].items()
                if v.get("status") == "ok"
            )
        )
        ui.step()

    # where Ember's time goes (1 thread, or the first thread count measured), and its memory
    ember_sys = next((s for s in ready if s.key == "ember"), None)
    mods = getattr(ember_sys, "modules", {}) if ember_sys is not None else {}
    if mods:
        try:
            out["ember_memory"] = dict(next(iter(mods.values())).memory)
        except Exception:  # noqa: BLE001 - memory figures are a nicety
            pass
    if ember_sys is not None and not args.no_profile:
        t = 1 if 1 in args.threads else args.threads[0]
        mod = getattr(ember_sys, "modules", {}).get((spec.key, t))
        ok = out["threads"][str(t)]["systems"].get("ember", {}).get("status") == "ok"
        if mod is not None and ok:
            from ember.bench.profile import by_op

            med = out["threads"][str(t)]["systems"]["ember"]["stats_ms"]["median"]
            prof_runs = 1 if med > 300 else 3
            try:
                rows = mod.profile(*case.np_inputs, runs=prof_runs)
                out["ember_profile"] = {
                    "threads": t,
                    "runs": prof_runs,
                    "by_op": by_op(rows),
                    "top_nodes": rows[:15],
                }
            except Exception as exc:  # noqa: BLE001
                out["ember_profile"] = {"error": f"{type(exc).__name__}: {exc}"}
    for s in systems:
        s.release(case)
    return out


def run_gemm(args: argparse.Namespace, ui: Progress) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_ENV}
    out: dict[str, Any] = {
        "size": args.gemm_size,
        "env_removed": [k for k in OPENBLAS_ENV if k in os.environ],
        "threads": {},
    }
    for t in args.threads:
        # OpenBLAS workers busy-wait ~2^28 cycles after each call; interleaved, that spinning takes
        # the second core from Ember's next run. 2^4 cycles lets them sleep at once, as ORT's spinning
        # is switched off and OpenMP is passive for the model runs (an explicit setting is kept)
        env_t = dict(env, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
        env_t.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
        cmd = [
            sys.executable,
            str(HERE / "peers" / "gemm.py"),
            "--size",
            str(args.gemm_size),
            "--threads",
            str(t),
            "--runs",
            str(args.runs),
            "--warmup",
            str(args.warmup),
            "--budget",
            str(args.budget),
            "--min-runs",
            str(args.min_runs),
        ]
        ui.log(
            f"[gemm] {args.gemm_size}^3 at {t} thread(s): Ember vs numpy (subprocess without {OPENBLAS_ENV})"
        )
        for attempt in range(2):  # one retry: a failure can be transient (the extension being rebuilt)
            res = subprocess.run(cmd, capture_output=True, text=True, env=env_t, timeout=1800)
            if res.returncode == 0:
                out["threads"][str(t)] = json.loads(res.stdout)
                break
            out["threads"][str(t)] = {"error": res.stderr.strip()[-2000:]}
            ui.log(f"[gemm] attempt {attempt + 1} failed: {res.stderr.strip()[-500:]}")
            time.sleep(15)
    return out


# ------------------------------------------------------------------------------------ reporting
SYS_TITLES = {
    "ember": "Ember",
    "torch": "PyTorch eager",
    "executorch": "ExecuTorch+XNNPACK",
    "ort": "ONNX Runtime",
}


GEMM_TITLES = {"ember": "Ember", "numpy": "numpy (OpenBLAS sgemm)", "mkl": "oneMKL sgemm (ctypes)"}


def _md(text: Any, limit: int = 120) -> str:
    """One line of text safe inside a markdown table cell."""
    lines = [x.strip() for x in str(text).strip().splitlines() if x.strip()]
    s = (lines[-1] if lines else "").replace("|", "/")
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _fmt_ms(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def _cell(v: dict[str, Any] | None) -> str:
    if not v:
        return "-"
    st = v.get("status")
    if st == "ok":
        s = v["stats_ms"]
        cell = f"{_fmt_ms(s['median'])} / {_fmt_ms(s['p90'])}"
        if v.get("ratio_to_ember") is not None and v.get("key") != "ember":
            cell += f" (**{v['ratio_to_ember']:.2f}x**)"
        if v.get("capped"):
            cell += f" [{v['runs']} runs]"
        return cell
    if st == "wrong":
        return f"wrong (err {v['check']['max_abs_err']:.2g})"
    msg = v.get("error") or (v.get("check") or {}).get("message") or "failed"
    return "failed: " + _md(msg, 80)


def reference_peak(lim: dict[str, Any] | None) -> tuple[float | None, str]:
    """The FMA peak Ember's GEMM is held to: AVX-512 where the CPU has it (Ember's dispatcher then runs its
    AVX-512 microkernel), else AVX2."""
    lim = lim or {}
    if lim.get("fma_avx512_gflops"):
        return lim["fma_avx512_gflops"], "AVX-512"
    return lim.get("fma_avx2_gflops"), "AVX2"


def peer_scaling(m: dict[str, Any]) -> str:
    """The other systems' 2-thread speed-ups on the same model in the same run, as ' (name 0.98x, ...)':
    a missed scaling target reads differently when every system is flat (a machine limit, e.g. memory
    bandwidth that a second thread does not add to) than when only Ember is."""
    t1, t2 = m["threads"].get("1", {}).get("systems", {}), m["threads"].get("2", {}).get("systems", {})
    got = [
        f"{SYS_TITLES.get(k, k)} {t1[k]['stats_ms']['median'] / v['stats_ms']['median']:.2f}x"
        for k, v in t2.items()
        if k != "ember" and v.get("status") == "ok" and t1.get(k, {}).get("status") == "ok"
    ]
    return f" (the others' speed-up in this run: {', '.join(got)})" if got else ""


def targets(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Issue 3's 'done means' lines with the measured value and whether it is met."""
    rows: list[tuple[str, str, str]] = []
    peak, isa = reference_peak(results.get("limits"))
    gemm1 = ((results.get("gemm") or {}).get("threads") or {}).get("1", {})
    g1 = gemm1.get("systems")
    if g1:
        em, nb = g1["ember"]["gflops_median"], g1["numpy"]["gflops_median"]
        same = (gemm1.get("peak_same_rounds") or {}).get("gflops_median")
        mkl = g1.get("mkl")
        if same:  # the peak read in the GEMM's own rotation: median against median, same clock
            pct = 100 * em / same
            measured = (
                f"{em:.1f} GFLOP/s = {pct:.1f}% of the {gemm1['peak_same_rounds']['isa']} FMA peak read in "
                f"the same rotation (median {same:.1f})"
                + (f"; {100 * em / peak:.1f}% of the run's best peak reading, {peak:.1f}" if peak else "")
            )
            mkl_note = (
                f"; oneMKL sgemm, same rotation: {100 * mkl['gflops_median'] / same:.0f}%" if mkl else ""
            )
        elif peak:
            pct = 100 * em / peak
            measured = f"{em:.1f} GFLOP/s = {pct:.1f}% of the {isa} peak {peak:.1f}"
            mkl_note = f"; oneMKL sgemm, same run: {100 * mkl['gflops_median'] / peak:.0f}%" if mkl else ""
        if same or peak:
            rows.append(
                (
                    "GEMM 1024^3, 1 thread: >= 80% of FMA peak",
                    measured,
                    ("met" + mkl_note)
                    if pct >= 80
                    else f"missed by {80 - pct:.1f} points{mkl_note} (time split: the GEMM anatomy section)",
                )
            )
        rows.append(
            (
                "GEMM 1024^3, 1 thread: >= 1.0x numpy sgemm",
                f"{em / nb:.2f}x",
                "met" if em >= nb else f"missed: Ember needs {nb / em:.2f}x more speed",
            )
        )
    groups = {
        "mobilenet_v2": ("executorch", "ort"),
        "resnet18": ("executorch", "ort"),
        "minilm": ("ort", "executorch"),
        "llama_prefill": ("ort", "executorch"),
        "llama_decode": ("ort", "executorch"),
    }
    models = results.get("models", {})
    for mk, peers in groups.items():
        m = models.get(mk)
        if not m or "1" not in m["threads"]:
            continue
        sy = m["threads"]["1"]["systems"]
        e = sy.get("ember", {})
        for p in peers:
            v = sy.get(p, {})
            label = f"{m['title']}, 1 thread: Ember <= 1.0x {SYS_TITLES[p]}"
            if e.get("status") != "ok" or v.get("status") != "ok":
                rows.append(
                    (label, "not measured", f"Ember {e.get('status', '-')}, {p} {v.get('status', '-')}")
                )
                continue
            r = e["stats_ms"]["median"] / v["stats_ms"]["median"]
            rows.append((label, f"{r:.2f}x", "met" if r <= 1.0 else f"missed: Ember {r:.2f}x slower"))
    for m in models.values():
        if "1" in m["threads"] and "2" in m["threads"]:
            e1 = m["threads"]["1"]["systems"].get("ember", {})
            e2 = m["threads"]["2"]["systems"].get("ember", {})
            if e1.get("status") == "ok" and e2.get("status") == "ok":
                sc = e1["stats_ms"]["median"] / e2["stats_ms"]["median"]
                rows.append(
                    (
                        f"{m['title']}: 2 threads faster than 1",
                        f"{sc:.2f}x speed-up",
                        "met" if sc > 1.0 else "missed" + peer_scaling(m),
                    )
                )
    return rows


def markdown(results: dict[str, Any], plot_rel: str | None) -> str:
    from ember.bench.machine import one_line

    mach = results["machine"]
    cfg = results["config"]
    L: list[str] = [
        MD_START,
        "## Side by side: Ember, PyTorch, ExecuTorch+XNNPACK, ONNX Runtime (fp32 CPU)",
        "",
    ]
    capped = sorted(
        {
            f"{SYS_TITLES.get(k, k)} on {m['title']} at {t} thread{'s' if t != '1' else ''}"
            for m in results["models"].values()
            for t, r in m["threads"].items()
            for k, v in r["systems"].items()
            if v.get("capped")
        }
    )
    capped_note = (
        ("; capped in this run: " + "; ".join(capped)) if capped else "; none was capped in this run"
    )
    la0, la1 = mach.get("loadavg") or [0, 0, 0], results.get("loadavg_end") or [0, 0, 0]
    L += [
        f"Measured {results['started']} UTC in {results['elapsed_s'] / 60:.1f} min with "
        f"`{results['command']}` (Ember {results['versions'].get('ember')}).",
        "",
        f"**Machine**: {one_line(mach)}. Caches: "
        + ", ".join(f"{k} {v}" for k, v in (mach.get("caches") or {}).items())
        + f". {mach.get('distro') or ''}, Python {mach['python']}.",
        "",
        "**Libraries**: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items() if v) + ".",
        "",
        f"**Load**: 1-minute load average {la0[0]:.2f} at the start, {la1[0]:.2f} at the end on "
        f"{mach['usable_cpus']} CPUs. The machine is shared: absolute times drift, ratios from one "
        "interleaved run are the figures to quote.",
        "",
        f"**Protocol**: same inputs for every system; every output checked against PyTorch eager before "
        f"timing (max |err| <= tol x max(1, max|ref|), tol per model in the JSON; a system that disagrees is "
        f"*wrong* and not timed); {cfg['warmup']} warm-up runs; {cfg['runs']} rounds, each running every "
        f"system once in a rotating order. A system slower than {cfg['budget']:g} s / {cfg['runs']} runs is "
        f"timed on fewer rounds spread evenly over all of them (at least {cfg['min_runs']}; marked "
        f"[n runs]){capped_note}. An untimed pause of {cfg.get('gap_ms', 0):g} ms follows each run so the "
        "previous system's worker threads go idle (kept short: 5 ms or more let this VM's idle second vCPU "
        "sleep, and 2-thread runs then waited for it to wake); Python's garbage collector is off during "
        "warm-up and timing (collected once before). Thread counts: torch.set_num_threads (OMP_WAIT_POLICY="
        f"{cfg.get('omp_wait_policy', 'default')}), ORT intra_op_num_threads (spinning "
        + ("on" if cfg.get("ort_spin") else "off, since the systems share the process")
        + "), ExecuTorch's threadpool (_unsafe_reset_threadpool), ember.load(threads=).",
        "",
        "Cells: **median / p90 ms (system median / Ember median)**; above 1.0x Ember is faster.",
        "",
    ]
    systems = [k for k in SYSTEM_ORDER if k in cfg["systems"]]
    for t in cfg["threads"]:
        L += [
            f"### {t} thread{'s' if t > 1 else ''}",
            "",
            "| model | " + " | ".join(SYS_TITLES[k] for k in systems) + " |",
            "|---|" + "---:|" * len(systems),
        ]
        for m in results["models"].values():
            row = m["threads"].get(str(t), {}).get("systems", {})
            cells = []
            for k in systems:
                v = row.get(k)
                if v is None and k in cfg.get("skipped", {}):
                    cells.append("not run")
                elif v is None and not m["prepare"].get(k, {}).get("ok", True):
                    cells.append("export failed")
                else:
                    cells.append(_cell({**v, "key": k} if v else None))
            L.append(f"| {m['title']} | " + " | ".join(cells) + " |")
        L.append("")
    # accuracy
    L += [
        "### Max abs error against PyTorch (all thread counts)",
        "",
        "| model | " + " | ".join(SYS_TITLES[k] for k in systems if k != "torch") + " |",
        "|---|" + "---:|" * len([k for k in systems if k != "torch"]),
    ]
    for m in results["models"].values():
        cells = []
        for k in systems:
            if k == "torch":
                continue
            errs = [
                r["systems"].get(k, {}).get("check", {}).get("max_abs_err") for r in m["threads"].values()
            ]
            errs = [e for e in errs if e is not None]
            cells.append(f"{max(errs):.1e}" if errs else "-")
        L.append(f"| {m['title']} | " + " | ".join(cells) + " |")
    L.append("")
    # scaling
    if "1" in map(str, cfg["threads"]) and "2" in map(str, cfg["threads"]):
        L += [
            "### Scaling: median at 1 thread / median at 2 threads",
            "",
            "| model | " + " | ".join(SYS_TITLES[k] for k in systems) + " |",
            "|---|" + "---:|" * len(systems),
        ]
        for m in results["models"].values():
            cells = []
            for k in systems:
                a = m["threads"].get("1", {}).get("systems", {}).get(k, {})
                b = m["threads"].get("2", {}).get("systems", {}).get(k, {})
                if a.get("status") == "ok" and b.get("status") == "ok":
                    cells.append(f"{a['stats_ms']['median'] / b['stats_ms']['median']:.2f}x")
                else:
                    cells.append("-")
            L.append(f"| {m['title']} | " + " | ".join(cells) + " |")
        L.append("")
    if plot_rel:
        L += [f"![time relative to Ember]({plot_rel})", ""]
    # limits and GEMM
    lim = results.get("limits")
    if lim:
        L += ["### This machine's limits", ""]
        if "fma_avx2_gflops" in lim:
            L.append(
                f"- fp32 FMA peak, 1 thread, AVX2 (`{lim.get('compile')}`, 12 independent `_mm256_fmadd_ps` "
                f"chains, best of {lim.get('trials', '?')}): **{lim['fma_avx2_gflops']:.1f} GFLOP/s**"
            )
        if "fma_avx512_gflops" in lim:
            L.append(
                "- the same with AVX-512 (this CPU has avx512f, so Ember runs its AVX-512 GEMM "
                "microkernel and this is the reference peak): "
                f"{lim['fma_avx512_gflops']:.1f} GFLOP/s"
            )
        for t, v in (lim.get("bandwidth_gbs") or {}).items():
            L.append(
                f"- memory read bandwidth, {t} thread{'s' if t != '1' else ''} (streaming sum over "
                f"{lim['bandwidth_bytes'] / 2**20:.0f} MiB): **{v:.1f} GB/s**"
            )
        readings = lim.get("readings") or []
        if len(readings) > 1:

            def fmt(r: dict[str, Any]) -> str:
                bw = ", ".join(f"{v:.1f}" for v in (r.get("bandwidth_gbs") or {}).values())
                return f"FMA {r.get('fma_avx2_gflops') or 0:.1f} GFLOP/s, bandwidth {bw} GB/s"

            L.append(
                f"- each figure is the best of {len(readings)} readings, at the start and at the end of the "
                "run (a peak is a maximum; a lower reading means another process had the core): "
                + "; ".join(fmt(r) for r in readings)
            )
        for n in lim.get("notes", []):
            L.append(f"- note: {n}")
        L.append("")
    gemm = results.get("gemm")
    if gemm:
        peak = (lim or {}).get("fma_avx2_gflops")
        peak512 = (lim or {}).get("fma_avx512_gflops")
        n = gemm["size"]
        L += [
            f"### fp32 GEMM {n}x{n}x{n} (x @ W^T, W constant)",
            "",
            "| threads | system | median ms | p90 ms | runs | GFLOP/s | % of AVX2 FMA peak (x threads) "
            "| % of AVX-512 peak | max abs err |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        blas_line = ""
        for t, g in gemm["threads"].items():
            if "error" in g:
                L.append(f"| {t} | failed: {_md(g['error'])} | | | | | | |")
                continue
            for k, v in g["systems"].items():
                pct = f"{100 * v['gflops_median'] / (peak * int(t)):.0f}%" if peak else "-"
                pct512 = f"{100 * v['gflops_median'] / (peak512 * int(t)):.0f}%" if peak512 else "-"
                s = v["stats_ms"]
                L.append(
                    f"| {t} | {GEMM_TITLES.get(k, k)} | "
                    f"{s['median']:.1f} | {s['p90']:.1f} | {v['runs']} | {v['gflops_median']:.1f} | {pct} | "
                    f"{pct512} | {v['max_abs_err_vs_float64']:.1e} |"
                )
            b = (g.get("blas") or [{}])[0]
            blas_line = (
                f"numpy's BLAS per threadpoolctl: {b.get('internal_api')} {b.get('version')}, kernel "
                f"**{b.get('architecture')}**, {b.get('threading_layer')}"
            )
            if str(b.get("architecture", "")).lower() in ("skylakex", "cooperlake", "sapphirerapids"):
                blas_line += " (an AVX-512 kernel, like Ember's on this CPU)"
            if g.get("mkl"):
                blas_line += (
                    f". {g['mkl']} through ctypes (the `bench-mkl` extra): Intel's own BLAS, its sequential "
                    "layer at 1 thread, GNU OpenMP above"
                )
        removed = gemm.get("env_removed") or []
        same = (gemm["threads"].get("1") or {}).get("peak_same_rounds") or {}
        if same.get("gflops_median"):
            g1s = gemm["threads"]["1"]["systems"]
            shares = ", ".join(
                f"{GEMM_TITLES.get(k, k)} {100 * v['gflops_median'] / same['gflops_median']:.1f}%"
                for k, v in g1s.items()
            )
            L += [
                "",
                f"FMA peak read in the 1-thread rotation itself ({same['readings']} readings of the "
                f"register-only {same['isa']} loop, ~{same['ms_per_reading']:.0f} ms each, one per round "
                f"between the GEMMs): median {same['gflops_median']:.1f}, best {same['gflops_best']:.1f} "
                "GFLOP/s. Each system's median as a share of that median (the issue-3 target's figure: the "
                f"same clock for both): {shares}. The peak under the machine's limits is the best reading "
                "of the whole run; on this VM the clock drifts by several percent over minutes, so a ratio "
                "to it mixes the drift in.",
            ]
        elif same.get("note"):
            L += ["", f"FMA peak in the rotation: {same['note']}."]
        L += [
            "",
            (f"{blas_line}. " if blas_line else "")
            + "Run in a subprocess with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset "
            f"({'they were set here: ' + ', '.join(removed) if removed else 'neither was set here'}); "
            "OPENBLAS_THREAD_TIMEOUT="
            + str(
                next(iter(gemm.get("threads", {}).values()), {})
                .get("env", {})
                .get("OPENBLAS_THREAD_TIMEOUT", "unset")
            )
            + " (OpenBLAS's workers sleep right after a call instead of spinning into Ember's next run); "
            "errors are against a float64 product.",
            "",
        ]
    # memory-bound models against the measured bandwidth
    bw = ((lim or {}).get("bandwidth_gbs") or {}).get("1")
    bound = [
        m for k, m in results["models"].items() if k in ("llama_decode", "mlp") and m.get("streamed_bytes")
    ]
    if bw and bound and "1" in map(str, cfg["threads"]):
        L += [
            "### Memory-bound models against the measured read bandwidth (1 thread)",
            "",
            "Bytes per run = every weight except embedding tables, plus the inputs (KV cache included): the "
            f"least one inference must read. Measured streaming read bandwidth, 1 thread: {bw:.1f} GB/s.",
            "",
            "| model | MB per run | " + " | ".join(SYS_TITLES[k] for k in systems) + " |",
            "|---|---:|" + "---:|" * len(systems),
        ]
        for m in bound:
            cells = []
            for k in systems:
                v = m["threads"].get("1", {}).get("systems", {}).get(k, {})
                if v.get("status") == "ok":
                    gbs = m["streamed_bytes"] / (v["stats_ms"]["median"] * 1e-3) / 1e9
                    cells.append(f"{gbs:.1f} GB/s ({100 * gbs / bw:.0f}%)")
                else:
                    cells.append("-")
            L.append(f"| {m['title']} | {m['streamed_bytes'] / 1e6:.0f} | " + " | ".join(cells) + " |")
        L.append("")
    # targets
    rows = targets(results)
    if rows:
        L += [
            "### Issue 3 targets (1 thread unless said)",
            "",
            "| target | measured | status |",
            "|---|---|---|",
        ]
        L += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        L.append("")
    # profile
    profs = [
        (m["title"], m["ember_profile"])
        for m in results["models"].values()
        if m.get("ember_profile", {}).get("by_op")
    ]
    if profs:
        L += [
            "### Where Ember's time goes (per-op profile, top op types)",
            "",
            "| model | top op types (share of node time) |",
            "|---|---|",
        ]
        for title, p in profs:
            tops = ", ".join(f"{a['op']} {100 * a['share']:.0f}% ({a['count']})" for a in p["by_op"][:5])
            L.append(f"| {title} | {tops} |")
        L.append("")
    # conversion notes
    L += [
        "### Conversion",
        "",
        "| model | Ember export | Ember arena / weights / packed MB | ONNX export | ExecuTorch lowering: "
        "XNNPACK partitions, ops left on portable kernels |",
        "|---|---:|---:|---|---|",
    ]
    for m in results["models"].values():
        p = m["prepare"]
        em = p.get("ember", {})
        ox = p.get("ort", {})
        et = p.get("executorch", {})

        def took(info: dict[str, Any]) -> str:
            return f"{info.get('export_s', 0):.0f} s" + (" (cached)" if info.get("cached") else "")

        etcell = "-"
        if et.get("ok"):
            left = et.get("non_delegated_ops") or {}
            etcell = f"{took(et)}; {et.get('xnnpack_partitions')} partitions; " + (
                ", ".join(
                    f"{k.replace('aten.', '').replace('.default', '')} x{v}"
                    for k, v in list(left.items())[:6]
                )
                or "none"
            )
            if len(left) > 6:
                etcell += f" and {len(left) - 6} more op types"
        elif et:
            etcell = "failed: " + _md(et.get("error", ""), 80)
        oxcell = (
            f"{ox.get('exporter', '-')}, {took(ox)}"
            if ox.get("ok")
            else ("failed: " + _md(ox.get("error", ""), 80) if ox else "-")
        )
        emcell = took(em) if em.get("ok") else ("failed" if em else "-")
        mem = m.get("ember_memory") or {}
        memcell = (
            " / ".join(
                f"{mem.get(k, 0) / 1e6:.1f}" for k in ("arena_bytes", "weight_bytes", "packed_weight_bytes")
            )
            if mem
            else "-"
        )
        L.append(f"| {m['title']} | {emcell} | {memcell} | {oxcell} | {etcell} |")
    L.append("")
    notes = list(results.get("notes", []))
    for k, why in cfg.get("skipped", {}).items():
        notes.append(f"{SYS_TITLES.get(k, k)} was not run: {why}")
    if notes:
        L += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    L += [
        "Raw samples, every check and the profile: `benchmarks/results/compare.json`. Rerun: "
        "`pip install -e '.[bench]'` then `python benchmarks/compare.py` (`--quick` for a check, "
        "`--help` for the options); converted ONNX and ExecuTorch files are cached in ~/.cache/ember-bench "
        "(`--no-cache`), which saves a few minutes of ExecuTorch lowering.",
        "",
        MD_END,
    ]
    return "\n".join(L)


def replace_section(text: str, section: str) -> str:
    """Put `section` (which starts with MD_START and ends with MD_END) in place of the old one, or append it.
    Nothing outside the markers changes."""
    from ember.bench.results_md import replace_section as replace

    return replace(text, section, MD_START, MD_END)


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    cfg = results["config"]
    peers = [k for k in SYSTEM_ORDER if k in cfg["systems"] and k != "ember"]
    threads = cfg["threads"]
    models = list(results["models"].values())
    if not peers or not models:
        return False
    from matplotlib.ticker import FuncFormatter, LogLocator

    fig, axes = plt.subplots(1, len(threads), figsize=(6.5 * len(threads), 4.8), squeeze=False)
    width = 0.8 / len(peers)
    colors = {"torch": "#ee4c2c", "executorch": "#6a3d9a", "ort": "#1f78b4"}
    spread = 2.0
    for m in models:
        for r in m["threads"].values():
            for v in r["systems"].values():
                if v.get("status") == "ok" and v.get("ratio_to_ember"):
                    y = float(v["ratio_to_ember"])
                    spread = max(spread, y, 1.0 / y)
    for ax, t in zip(axes[0], threads):
        for i, k in enumerate(peers):
            xs, ys = [], []
            for j, m in enumerate(models):
                v = m["threads"].get(str(t), {}).get("systems", {}).get(k, {})
                if v.get("status") == "ok" and v.get("ratio_to_ember"):
                    xs.append(j + (i - (len(peers) - 1) / 2) * width)
                    ys.append(float(v["ratio_to_ember"]))
            # bars grow from 1.0 (parity with Ember): up when Ember is faster, down when it is slower
            ax.bar(
                xs, [y - 1.0 for y in ys], bottom=1.0, width=width, label=SYS_TITLES[k], color=colors.get(k)
            )
            for x, y in zip(xs, ys):
                ax.annotate(
                    f"{y:.2g}",
                    (x, y),
                    ha="center",
                    va="bottom" if y >= 1 else "top",
                    fontsize=6,
                    xytext=(0, 2 if y >= 1 else -2),
                    textcoords="offset points",
                )
        ax.axhline(1.0, color="black", linewidth=1)
        ax.set_yscale("log")
        ax.set_ylim(1.0 / (spread * 1.6), spread * 1.6)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}x"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: ""))
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels([m.get("short") or m["title"] for m in models], fontsize=8)
        ax.set_ylabel("system time / Ember time\n(above 1x: Ember is faster)")
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}")
        ax.grid(axis="y", which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Time relative to Ember (fp32, {results['started']} UTC)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ------------------------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"a check, not a measurement: models {','.join(QUICK_MODELS)} (unless --models), "
        "10 runs, 1 thread, short budgets; writes results/compare-quick.json, not RESULTS.md",
    )
    ap.add_argument("--models", help=f"comma-separated subset of: {','.join(MODELS)}")
    ap.add_argument("--systems", help=f"comma-separated subset of: {','.join(SYSTEM_ORDER)}")
    ap.add_argument("--threads", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--runs", type=int, help="timed rounds per model and thread count (default 50)")
    ap.add_argument("--warmup", type=int, help="warm-up runs per system (default 5)")
    ap.add_argument(
        "--budget",
        type=float,
        help="seconds of timed runs per system, model and thread count before a slow system is "
        "timed on fewer rounds (default 20)",
    )
    ap.add_argument("--min-runs", type=int, default=5, help="timed runs a slow system still gets (default 5)")
    ap.add_argument("--warmup-budget", type=float, default=5.0, help="seconds of warm-up per system at most")
    ap.add_argument("--gemm-size", type=int, default=1024)
    ap.add_argument("--no-limits", action="store_true", help="skip the FMA peak and bandwidth measurement")
    ap.add_argument("--no-gemm", action="store_true", help="skip the GEMM comparison")
    ap.add_argument("--no-profile", action="store_true", help="skip Ember's per-op profile")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--ort-spin", action="store_true", help="let ONNX Runtime's workers spin between runs")
    ap.add_argument(
        "--json", type=Path, help="results file (default results/compare.json, quick: compare-quick.json)"
    )
    ap.add_argument(
        "--md", type=Path, default=RESULTS_MD, help="markdown file whose compare section is replaced"
    )
    ap.add_argument("--write-md", action="store_true", help="write the markdown section even with --quick")
    ap.add_argument("--no-md", action="store_true", help="do not touch the markdown file")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ember-bench",
        help="where converted ONNX and ExecuTorch files are kept between runs, keyed by a "
        "hash of the model's code, weights, inputs and the library versions (default ~/.cache/ember-bench)",
    )
    ap.add_argument("--no-cache", action="store_true", help="convert every model again")
    ap.add_argument(
        "--gap-ms",
        type=float,
        default=1.0,
        help="untimed pause after each run so the previous system's workers go idle (default 1). Keep it "
        "short: on the 2-vCPU VM this was measured on, pauses of 5 ms or more let the idle second vCPU "
        "sleep, it woke late for the next run, and the memory-bound MLP ran no faster on 2 threads than "
        "on 1 for every system (7.2 ms both); with 0-2 ms all four scaled 1.7-1.9x",
    )
    ap.add_argument(
        "--omp-active",
        action="store_true",
        help="keep OpenMP's default wait policy for PyTorch (spinning); the default sets "
        "OMP_WAIT_POLICY=PASSIVE unless it is already set, as ORT's spinning is switched off",
    )
    args = ap.parse_args(argv)

    q = args.quick
    args.models = (
        [m.strip() for m in args.models.split(",")] if args.models else list(QUICK_MODELS if q else MODELS)
    )
    args.systems = [s.strip() for s in args.systems.split(",")] if args.systems else list(SYSTEM_ORDER)
    args.threads = [int(t) for t in args.threads.split(",")] if args.threads else ([1] if q else [1, 2])
    args.runs = args.runs or (10 if q else 50)
    args.warmup = args.warmup if args.warmup is not None else (2 if q else 5)
    args.budget = args.budget if args.budget is not None else (5.0 if q else 20.0)
    if q:
        args.min_runs = min(args.min_runs, 3)
    for m in args.models:
        if m not in MODELS:
            ap.error(f"unknown model '{m}'; choose from {', '.join(MODELS)}")
    for s in args.systems:
        if s not in SYSTEM_ORDER:
            ap.error(f"unknown system '{s}'; choose from {', '.join(SYSTEM_ORDER)}")
    if "torch" not in args.systems:
        pass  # PyTorch is always the reference for the output check, timed or not
    if any(t < 1 for t in args.threads) or args.runs < 1:
        ap.error("--threads and --runs must be positive")
    if args.no_cache:
        args.cache_dir = None
    args.json = args.json or RESULTS_DIR / ("compare-quick.json" if q else "compare.json")
    args.write_md = (args.write_md or not q) and not args.no_md
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = _dt.datetime.now(_dt.timezone.utc)
    t_start = time.perf_counter()
    if not args.omp_active:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads its OpenMP runtime
    import torch  # noqa: F401 - imported before the peers so that their import order is fixed

    from ember.bench.machine import describe, version

    mach = describe(("numpy", "torch", "executorch", "onnxruntime", "onnx", "onnxscript", "transformers"))
    systems, skipped = make_systems(args.systems, args.ort_spin, args.cache_dir)
    versions: dict[str, Any] = {}
    for s in systems:
        if s.key == "ember":
            try:
                versions["ember"] = s.version()
            except Exception:  # noqa: BLE001 - a version string is not worth failing for
                versions["ember"] = None
    versions.update(mach["libraries"])
    results: dict[str, Any] = {
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "command": "python benchmarks/compare.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": mach,
        "versions": versions,
        "config": {
            "models": args.models,
            "systems": [s.key for s in systems],
            "threads": args.threads,
            "runs": args.runs,
            "warmup": args.warmup,
            "budget": args.budget,
            "min_runs": args.min_runs,
            "ort_spin": args.ort_spin,
            "skipped": skipped,
            "gap_ms": args.gap_ms,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        },
        "models": {},
        "notes": [],
    }
    for k, why in skipped.items():
        print(f"note: {k} skipped: {why}", file=sys.stderr)

    ui = Progress(len(args.models) * len(args.threads), enabled=not args.no_progress)
    bw_bytes = (1 << 30) if not args.quick else (1 << 28)
    limits_start: dict[str, Any] = {}
    try:
        if not args.no_limits:
            from ember.bench.limits import measure

            ui.log("[limits] fp32 FMA peak and memory bandwidth (now and again at the end; the best is kept)")
            limits_start = measure(bw_bytes=bw_bytes)
        with tempfile.TemporaryDirectory(prefix="ember-compare-") as tmp:
            for mk in args.models:
                try:
                    results["models"][mk] = bench_model(MODELS[mk], systems, args, ui, Path(tmp))
                except Exception as exc:  # noqa: BLE001 - keep the other models' results
                    ui.log(f"[{mk}] failed: {type(exc).__name__}: {exc}")
                    results["notes"].append(
                        f"{MODELS[mk].title} failed to build: {type(exc).__name__}: {exc}"
                    )
                import gc

                gc.collect()
        if not args.no_gemm:
            results["gemm"] = run_gemm(args, ui)
        if not args.no_limits:
            from ember.bench.limits import best_of, measure

            ui.log("[limits] fp32 FMA peak and memory bandwidth, second reading")
            results["limits"] = best_of(limits_start, measure(bw_bytes=bw_bytes))
    finally:
        ui.close()
    results["elapsed_s"] = time.perf_counter() - t_start
    results["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    if not versions.get("ember"):
        versions["ember"] = version("ember")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=str))
    print(f"wrote {args.json}")
    plot_rel = None
    if not args.no_plot:
        png = args.json.with_suffix(".png")
        if plot(results, png):
            print(f"wrote {png}")
            try:
                plot_rel = os.path.relpath(png, args.md.parent)
            except ValueError:
                plot_rel = str(png)
    section = markdown(results, plot_rel)
    if args.write_md:
        old = args.md.read_text() if args.md.exists() else ""
        args.md.write_text(replace_section(old, section))
        print(f"updated the compare section of {args.md}")
    else:
        print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
