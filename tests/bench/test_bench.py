"""`ember bench`, the statistics helper and compare.py's protocol pieces. Fast; never asserts timings."""

from __future__ import annotations

import importlib.util
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from ember.bench.profile import by_node, by_op
from ember.bench.stats import percentile, summarize

ROOT = Path(__file__).resolve().parents[2]


def _load_compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ember_bench_compare", ROOT / "benchmarks" / "compare.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the file runs
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def compare() -> ModuleType:
    return _load_compare()


# ------------------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 101])
def test_percentiles_match_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    xs = list(rng.lognormal(size=n))
    for q in (0, 1, 10, 25, 50, 75, 90, 99, 100):
        assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)), rel=1e-12, abs=1e-15)
    s = summarize(xs)
    assert s.n == n
    assert s.median == pytest.approx(float(np.median(xs)))
    assert s.p90 == pytest.approx(float(np.percentile(xs, 90)))
    assert s.p99 == pytest.approx(float(np.percentile(xs, 99)))
    assert s.min == min(xs) and s.max == max(xs)
    assert s.mean == pytest.approx(float(np.mean(xs)))
    assert s.stdev == pytest.approx(float(np.std(xs, ddof=1)) if n > 1 else 0.0)


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        summarize([])


def test_profile_aggregation() -> None:
    rows = [
        {"node": "a", "op": "conv2d", "ms": 3.0},
        {"node": "b", "op": "add", "ms": 1.0},
        {"node": "c", "op": "conv2d", "ms": 4.0},
    ]
    agg = by_op(rows)
    assert [a["op"] for a in agg] == ["conv2d", "add"]
    assert (
        agg[0]["count"] == 2
        and agg[0]["ms"] == pytest.approx(7.0)
        and agg[0]["share"] == pytest.approx(7 / 8)
    )
    assert [n["node"] for n in by_node(rows)] == ["c", "a", "b"]


# ---------------------------------------------------------------------------------- ember bench
@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-node MLP built straight in the IR: no torch import, so the test stays fast."""
    from ember.ir.dtypes import DType
    from ember.ir.graph import Graph
    from ember.passes.pipeline import compile_graph

    rng = np.random.default_rng(0)
    g = Graph()
    x = g.add_input("x", DType.from_numpy(np.dtype(np.float32)), (4, 64))
    w1, b1 = rng.standard_normal((128, 64), dtype=np.float32), rng.standard_normal(128, dtype=np.float32)
    w2 = rng.standard_normal((10, 128), dtype=np.float32)
    (h,) = g.add_node("linear", [x, g.const(w1, "w1"), g.const(b1, "b1")])
    (h,) = g.add_node("relu", [h])
    g.outputs = g.add_node("linear", [h, g.const(w2, "w2")])
    path = tmp_path_factory.mktemp("bench") / "mlp.ember"
    compile_graph(g).save(path)
    return path


def test_bench_cli_prints_every_section(
    small_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from ember.cli import main

    out_json = tmp_path / "bench.json"
    rc = main(
        [
            "bench",
            str(small_model),
            "--runs",
            "7",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--no-progress",
            "--json",
            str(out_json),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0
    for section in (
        "Load and first run",
        "load ",
        "first run",
        "Latency over 7 runs",
        "median",
        "p90",
        "p99",
        "Memory",
        "arena",
        "RSS",
        "peak",
        "Profile by op type",
        "nodes by time",
    ):
        assert section in text, f"missing '{section}' in:\n{text}"
    data = json.loads(out_json.read_text())
    assert len(data["samples_ms"]) == 7
    assert data["stats_ms"]["median"] == pytest.approx(float(np.median(data["samples_ms"])))
    assert data["memory"]["weight_bytes"] > 0
    assert data["profile"] and all(r["ms"] >= 0 and r["op"] and r["node"] for r in data["profile"])


def test_bench_cli_errors_are_actionable(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from ember.cli import main

    assert main(["bench", str(tmp_path / "missing.ember"), "--no-progress"]) == 1
    assert "no such model file" in capsys.readouterr().err


def test_registering_the_bench_command_stays_light() -> None:
    code = (
        "import argparse, sys, ember, ember.bench.cli; "
        "ember.bench.cli.register(argparse.ArgumentParser().add_subparsers()); "
        "heavy = [m for m in ('torch', 'rich', 'tqdm', 'matplotlib', 'onnxruntime', 'executorch') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


# ------------------------------------------------------------------------- compare.py protocol
def test_check_outputs(compare: ModuleType) -> None:
    ref = [np.array([[1.0, -2.0, 3.0]], np.float32), np.arange(4, dtype=np.float32)]
    ok = compare.check_outputs(ref, [r + 1e-6 for r in ref], tol=1e-3)
    assert ok.ok and ok.max_abs_err == pytest.approx(1e-6, rel=0.1)
    bad = compare.check_outputs(ref, [ref[0] + 0.5, ref[1]], tol=1e-3)
    assert not bad.ok and bad.max_abs_err == pytest.approx(0.5)
    assert not compare.check_outputs(ref, ref[:1], tol=1e-3).ok  # an output missing
    assert not compare.check_outputs(ref, [ref[0].T, ref[1]], tol=1e-3).ok  # wrong shape
    nan = ref[1].copy()
    nan[2] = np.nan
    assert not compare.check_outputs(ref, [ref[0], nan], tol=1e-3).ok


def test_a_system_that_disagrees_is_rejected_and_not_timed(compare: ModuleType) -> None:
    ref = [np.linspace(-1, 1, 10, dtype=np.float32)]
    calls = {"good": 0, "wrong": 0, "crash": 0}

    def good() -> list[np.ndarray]:
        calls["good"] += 1
        return [ref[0].copy()]

    def wrong() -> list[np.ndarray]:
        calls["wrong"] += 1
        return [ref[0] * 1.1]

    def crash() -> list[np.ndarray]:
        calls["crash"] += 1
        raise RuntimeError("kernel missing")

    runners = {"good": good, "wrong": wrong, "crash": crash}
    passing, checks = compare.verify_systems(runners, ref, tol=1e-3)
    assert list(passing) == ["good"]
    assert checks["good"]["ok"] and not checks["wrong"]["ok"] and not checks["crash"]["ok"]
    assert checks["wrong"]["max_abs_err"] == pytest.approx(0.1, rel=1e-3)
    assert "kernel missing" in checks["crash"]["message"]
    timings = compare.time_interleaved(passing, runs=6, warmup=1, budget_s=10.0, min_runs=2)
    assert set(timings) == {"good"} and len(timings["good"].samples_ms) == 6
    assert calls["wrong"] == 1 and calls["crash"] == 1  # checked once, never timed


def test_slow_systems_get_fewer_rounds_spread_evenly(compare: ModuleType) -> None:
    for planned in range(1, 51):
        rounds = [r for r in range(50) if compare.in_round(r, planned, 50)]
        assert len(rounds) == planned
        assert rounds[-1] == 49  # spread to the end, not bunched at the start
    assert compare.plan_runs(0.001, 50, 20.0, 5) == 50
    assert compare.plan_runs(1.0, 50, 20.0, 5) == 20
    assert compare.plan_runs(10.0, 50, 20.0, 5) == 5

    def slow() -> list[np.ndarray]:
        time.sleep(0.01)
        return []

    def fast() -> list[np.ndarray]:
        return []

    t = compare.time_interleaved({"slow": slow, "fast": fast}, runs=20, warmup=1, budget_s=0.05, min_runs=3)
    assert len(t["fast"].samples_ms) == 20
    assert 3 <= len(t["slow"].samples_ms) < 20 and t["slow"].planned == len(t["slow"].samples_ms)


def test_results_section_replaces_only_its_own_lines(compare: ModuleType) -> None:
    other = "# Benchmark results\n\n<!-- delivery:start -->\nkeep me\n<!-- delivery:end -->\n"
    sec1 = f"{compare.MD_START}\nfirst\n{compare.MD_END}"
    sec2 = f"{compare.MD_START}\nsecond\n{compare.MD_END}"
    once = compare.replace_section(other, sec1)
    twice = compare.replace_section(once + "\ntrailing text\n", sec2)
    assert "keep me" in twice and "trailing text" in twice
    assert "first" not in twice and twice.count(compare.MD_START) == 1 and "second" in twice
    assert compare.replace_section("", sec1).startswith("# Benchmark results")


def test_write_section_creates_then_rewrites_only_its_section(tmp_path: Path) -> None:
    from ember.bench.results_md import write_section

    path, start, end = tmp_path / "sub" / "RESULTS.md", "<!-- q:start -->", "<!-- q:end -->"
    write_section(path, f"{start}\none\n{end}", start, end)  # no file yet: header, then the section
    assert path.read_text() == f"# Benchmark results\n\n{start}\none\n{end}\n"
    path.write_text(path.read_text() + "\n<!-- other:start -->\nkeep\n<!-- other:end -->\n")
    write_section(path, f"{start}\ntwo\n{end}", start, end)
    text = path.read_text()
    assert "one" not in text and text.count(start) == 1 and "two" in text and "keep" in text
    write_section(path, f"{start}\ntwo\n{end}", start, end)
    assert path.read_text() == text  # rewriting the same section changes nothing
    assert [f.name for f in path.parent.iterdir()] == ["RESULTS.md"]  # no temporary file left behind


def test_markdown_renders_wrong_and_failed_systems(compare: ModuleType) -> None:
    def ok(ms: float, ratio: float | None) -> dict:
        return {
            "status": "ok",
            "runs": 50,
            "capped": False,
            "stats_ms": summarize([ms, ms * 1.1]).as_dict(),
            "ratio_to_ember": ratio,
            "check": {"ok": True, "max_abs_err": 1e-6},
        }

    results = {
        "started": "2026-01-01 00:00",
        "elapsed_s": 60.0,
        "command": "python benchmarks/compare.py",
        "machine": {
            "cpu": "test cpu",
            "arch": "x86_64",
            "usable_cpus": 2,
            "memory_bytes": 2**34,
            "os": "Linux",
            "simd": {"avx2": True},
            "python": "3.11",
            "loadavg": [1.0, 1.0, 1.0],
        },
        "loadavg_end": [1.0, 1.0, 1.0],
        "versions": {"ember": "0.1.0"},
        "notes": [],
        "config": {
            "systems": ["ember", "torch", "ort"],
            "threads": [1],
            "runs": 50,
            "warmup": 5,
            "budget": 20.0,
            "min_runs": 5,
            "skipped": {"executorch": "not installed"},
        },
        "models": {
            "mlp": {
                "title": "MLP",
                "prepare": {
                    "ember": {"ok": True, "export_s": 1.0},
                    "ort": {"ok": True, "exporter": "dynamo"},
                },
                "threads": {
                    "1": {
                        "systems": {
                            "ember": ok(10.0, 1.0),
                            "torch": ok(5.0, 0.5),
                            "ort": {
                                "status": "wrong",
                                "check": {"ok": False, "max_abs_err": 0.3, "message": "too far"},
                            },
                        }
                    }
                },
            }
        },
    }
    md = compare.markdown(results, "results/compare.png")
    assert md.startswith(compare.MD_START) and md.endswith(compare.MD_END)
    assert "wrong (err 0.3)" in md and "(**0.50x**)" in md and "results/compare.png" in md
    assert "not installed" in md


def test_quick_flags_limit_the_run_and_leave_results_md_alone(compare: ModuleType) -> None:
    a = compare.parse_args(["--quick"])
    assert a.models == list(compare.QUICK_MODELS) and a.threads == [1] and a.runs == 10
    assert not a.write_md and a.json.name == "compare-quick.json"
    full = compare.parse_args([])
    assert full.runs >= 50 and full.threads == [1, 2] and full.write_md and full.json.name == "compare.json"
    assert set(full.models) == set(compare.MODELS) and full.systems == list(compare.SYSTEM_ORDER)
    b = compare.parse_args(["--models", "mlp", "--systems", "ember,ort", "--threads", "2", "--runs", "3"])
    assert b.models == ["mlp"] and b.systems == ["ember", "ort"] and b.threads == [2] and b.runs == 3
    with pytest.raises(SystemExit):
        compare.parse_args(["--models", "nope"])


@pytest.mark.skipif(
    not (shutil.which("gcc") or shutil.which("cc")) or platform.machine() not in ("x86_64", "AMD64"),
    reason="needs a C compiler and x86-64",
)
def test_machine_limits_programs_compile_and_report() -> None:
    from ember.bench.limits import measure

    r = measure(fma_seconds=0.005, trials=1, bw_bytes=1 << 22, bw_passes=1, bw_threads=(1, 2))
    assert r["notes"] == [] or all("avx512" in n or "-mavx512f" in n for n in r["notes"]), r["notes"]
    assert r["fma_avx2_gflops"] > 0
    assert set(r["bandwidth_gbs"]) == {"1", "2"} and all(v > 0 for v in r["bandwidth_gbs"].values())


def test_limits_keep_the_best_reading() -> None:
    from ember.bench.limits import best_of

    a = {"fma_avx2_gflops": 60.0, "bandwidth_gbs": {"1": 12.0, "2": 8.0}, "notes": []}
    b = {
        "fma_avx2_gflops": 100.0,
        "fma_avx512_gflops": 200.0,
        "bandwidth_gbs": {"1": 5.0, "2": 9.0},
        "notes": [],
    }
    r = best_of(a, b)
    assert r["fma_avx2_gflops"] == 100.0 and r["fma_avx512_gflops"] == 200.0
    assert r["bandwidth_gbs"] == {"1": 12.0, "2": 9.0} and len(r["readings"]) == 2


@pytest.mark.skipif(
    not (shutil.which("gcc") or shutil.which("cc")) or platform.machine() not in ("x86_64", "AMD64"),
    reason="needs a C compiler and x86-64",
)
def test_fma_loop_runs_in_process() -> None:
    from ember.bench.limits import FmaLoop

    f = FmaLoop(seconds=0.001)
    assert f.flops_per_iter == 12 * (16 if f.avx512 else 8) * 2 and f.iters >= 200_000
    assert all(f.reading() > 0 for _ in range(3))


def _gemm_results(em: float, nb: float, same: dict | None, best_peak: float) -> dict:
    def sys_(gf: float) -> dict:
        return {"gflops_median": gf, "stats_ms": summarize([1.0, 1.1]).as_dict(), "runs": 2}

    g1: dict = {"systems": {"ember": sys_(em), "numpy": sys_(nb), "mkl": sys_(0.9 * em)}}
    if same is not None:
        g1["peak_same_rounds"] = same
    return {
        "limits": {"fma_avx2_gflops": best_peak / 2, "fma_avx512_gflops": best_peak},
        "gemm": {"threads": {"1": g1}},
    }


def test_gemm_target_is_judged_against_the_peak_read_in_the_same_rotation(compare: ModuleType) -> None:
    same = {
        "isa": "AVX-512",
        "readings": 50,
        "ms_per_reading": 10.0,
        "gflops_median": 225.0,
        "gflops_best": 233.0,
    }
    # 185 of a same-rotation median of 225 is 82.2%: met, although it is only 77% of the run's best reading
    row = compare.targets(_gemm_results(185.0, 160.0, same, 240.0))[0]
    assert row[0].startswith("GEMM 1024^3") and row[2].startswith("met")
    assert "82.2% of the AVX-512 FMA peak read in the same rotation (median 225.0)" in row[1]
    assert "77.1% of the run's best peak reading, 240.0" in row[1]
    # 175 of 225 is 77.8%: missed, by the same-rotation figure
    assert compare.targets(_gemm_results(175.0, 160.0, same, 240.0))[0][2].startswith("missed by 2.2 points")
    # without a same-rotation peak (no compiler in the GEMM subprocess) the run's best reading is used
    old = compare.targets(_gemm_results(185.0, 160.0, None, 240.0))[0]
    assert "77.1% of the AVX-512 peak 240.0" in old[1] and old[2].startswith("missed by 2.9 points")
