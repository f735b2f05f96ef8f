"""Where the time of Ember's 1024^3 fp32 GEMM goes, one thread, AVX-512 (the issue-3 GEMM target).

Builds the runtime's static library (CMake, Release) and anatomy.c, writes a one-node linear .ember whose
weight anatomy.c rebuilds bit for bit, runs the five stages in alternation (FMA peak, microkernel in L1,
the driver's loop without and with A packing, the real Ember run) and replaces the gemm-anatomy section
of benchmarks/RESULTS.md. The replica loop must produce Ember's output exactly (checked)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ember.bench.results_md import write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- gemm-anatomy:start -->", "<!-- gemm-anatomy:end -->"


def weight(n: int) -> np.ndarray:
    """anatomy.c's weight: w[i] = (i * 104729 mod 1000) / 500 - 1 (64-bit i), row-major (out, in)."""
    i = np.arange(n * n, dtype=np.uint64)
    v = (i * np.uint64(104729)) % np.uint64(1000)
    return (v.astype(np.float32) / np.float32(500.0) - np.float32(1.0)).reshape(n, n)


def write_model(path: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from ember.ir.dtypes import DType
    from ember.ir.graph import Graph
    from ember.passes.pipeline import compile_graph

    g = Graph()
    x = g.add_input("x", DType.from_numpy(np.dtype(np.float32)), (n, n))
    g.outputs = g.add_node("linear", [x, g.const(weight(n), "weight")])
    compile_graph(g).save(path)


def build(work: Path) -> Path:
    cc = os.environ.get("CC", "gcc")
    if shutil.which("cmake") is None or shutil.which(cc) is None:
        raise SystemExit(f"needs cmake and {cc} on PATH")
    bdir = work / "build"
    subprocess.run(
        ["cmake", "-S", str(ROOT), "-B", str(bdir), "-DCMAKE_BUILD_TYPE=Release"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["cmake", "--build", str(bdir), "--target", "ember_runtime", "-j2"], check=True, capture_output=True
    )
    lib = next(bdir.rglob("libember_runtime.a"))
    exe = work / "anatomy"
    inc = ["-I", str(ROOT / "runtime" / "include"), "-I", str(ROOT / "runtime" / "kernels" / "fast")]
    flags = ["-O2", "-std=c11", "-Wall", "-Wextra", "-mavx512f"]
    src = [str(HERE / "anatomy.c"), str(lib), "-lm", "-lpthread"]
    subprocess.run([cc, *flags, *inc, *src, "-o", str(exe)], check=True)
    return exe


def report(r: dict[str, Any]) -> str:
    st = r["stages"]
    peak = st["peak"]["best"]
    mc, kc = r["mc"], r["kc"]
    rows = [
        ("peak", "FMA peak: 12 independent zmm FMA chains, registers only"),
        ("l1", "12x32 packed-A microkernel, one tile, A and B in L1 (k = 128)"),
        ("l2", f"the microkernel over {mc // 12} A micro-panels and one 32-column B slice, k = {kc}: in L2"),
        ("loop", f"the driver's loop, whole product ({mc}-row tiles, K blocks of {kc}, A packed per tile)"),
        ("ember", "Ember: one-node linear .ember through the C API (input and output bound, no copies)"),
    ]
    L = [
        START,
        "## fp32 GEMM 1024^3 anatomy (1 thread, AVX-512)",
        "",
        f"`python benchmarks/gemm_anatomy/run.py`: {r['rounds']} rounds, each running every stage once, "
        "GFLOP/s (median / best). The loop replicates the blocking f32_linear.c picks for this shape; its "
        f"output equals Ember's (max |diff| {r['replica_vs_ember_max_abs_diff']:g}).",
        "",
        "| stage | median | best | best / peak |",
        "|---|---:|---:|---:|",
    ]
    for key, title in rows:
        s = st[key]
        L.append(f"| {title} | {s['median']:.1f} | {s['best']:.1f} | {100 * s['best'] / peak:.0f}% |")
    pack_share = st["loop"]["median"] / st["packonly"]["median"]  # time(pack) / time(loop)
    loop_wo_pack = st["loop"]["best"] / (1 - pack_share)
    pts = {
        "kernel": st["peak"]["best"] - st["l1"]["best"],
        "l2": st["l1"]["best"] - st["l2"]["best"],
        "memory": st["l2"]["best"] - loop_wo_pack,
        "pack": loop_wo_pack - st["loop"]["best"],
        "runtime": st["loop"]["best"] - st["ember"]["best"],
    }
    f = {k: f"{100 * v / peak:.0f}" for k, v in pts.items()}
    L += [
        "",
        f"Points of peak lost, best figures: the microkernel itself {f['kernel']} (12 broadcasts and 2 B "
        f"loads beside 24 FMAs per k step); operands in L2 instead of L1 {f['l2']}; the whole product's "
        f"memory traffic (each B slice from L3 once per row tile, C written to memory) {f['memory']}; "
        f"packing A {f['pack']} ({100 * pack_share:.1f}% of the loop's time); the runtime around the "
        f"loop {f['runtime']}.",
        END,
    ]
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--no-md", action="store_true", help="print, do not touch RESULTS.md")
    args = ap.parse_args()
    if "avx512f" not in Path("/proc/cpuinfo").read_text(errors="replace"):
        print("this CPU has no AVX-512: the anatomy measures the AVX-512 kernel only")
        return 0
    with tempfile.TemporaryDirectory(prefix="ember-anatomy-") as tmp:
        work = Path(tmp)
        exe = build(work)
        model = work / "linear.ember"
        write_model(model, args.size)
        out = subprocess.run([str(exe), str(model), str(args.size), str(args.rounds)], check=True,
                             capture_output=True, text=True)  # fmt: skip
    r = json.loads(out.stdout)
    if r["replica_vs_ember_max_abs_diff"] != 0:
        print(f"the replica loop does not compute Ember's product: {r}", file=sys.stderr)
        return 1
    md = report(r)
    print(md)
    if not args.no_md:
        write_section(RESULTS_MD, md, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
