"""How fast each AVX-512 GEMM tile shape runs depending on where its operands come from (1 thread).

The packed-A microkernel's shape decides how many bytes it needs per cycle: a tile of MR rows x NV zmm
columns does MR*NV FMAs per k step (MR*NV/2 cycles at two FMAs per cycle) and reads NV*64 bytes of B
plus MR*4 bytes of A. This script generates the k loop of each shape in inline assembly (B loads,
register broadcasts, FMAs; nothing else), compiles it with gcc and times it, in alternation with a
register-only FMA loop (the peak), with the operands fed three ways:

  L1        k = 128, the same A and B every call (both in L1)
  B in L1   k = 256, B fixed (at most 32 KiB) while A advances through 1 MiB (A from L2)
  L2        k = 4096, A advances through 512 KiB and B through 1 MiB (both from L2, no L1 reuse)
  L3        the same with B advancing through 4 MiB, twice the L2 (B from L3, no prefetch)

plus one row that is not a GEMM: the 12x32 loop with its broadcasts taken out (A values stay in
registers), the ceiling of the FMAs and B loads alone. Replaces the gemm-tiles section of
benchmarks/RESULTS.md. Usage: python benchmarks/gemm_anatomy/tile_shapes.py [--rounds 21] [--no-md]"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ember.bench.results_md import write_section

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE.parents[1] / "benchmarks" / "RESULTS.md"
START, END = "<!-- gemm-tiles:start -->", "<!-- gemm-tiles:end -->"

# (name, rows, zmm columns, broadcasts): Ember's kernel is 12x32; the others were candidates
SHAPES = [
    ("12x32", 12, 2, True),
    ("14x32", 14, 2, True),
    ("9x48", 9, 3, True),
    ("6x64", 6, 4, True),
    ("12x32 without broadcasts (not a GEMM)", 12, 2, False),
]
MODES = [("l1", 128), ("b_l1", 256), ("l2", 4096), ("l3", 4096)]


def kernel_c(fn: str, mr: int, nv: int, bcast: bool, unroll: int = 4) -> str:
    """C function `fn(k, a, b, c)`: k/unroll iterations of `unroll` k steps of an mr x (16*nv) tile. A is
    packed mr floats per k step, B nv*16 floats per k step (one stream); one accumulator is stored."""
    accs = list(range(32 - mr * nv, 32))
    temps = list(range(nv, 32 - mr * nv))
    if not temps:
        raise ValueError(f"{mr}x{16 * nv} leaves no register for the broadcasts")
    lines = []
    for q in range(unroll):
        for v in range(nv):
            lines.append(f'"vmovaps {64 * (nv * q + v)}(%[b]), %%zmm{v}\\n\\t"')
        for r in range(mr):
            t = temps[r % len(temps)]
            if bcast:
                lines.append(f'"vbroadcastss {4 * r + 4 * mr * q}(%[a]), %%zmm{t}\\n\\t"')
            for v in range(nv):
                lines.append(f'"vfmadd231ps %%zmm{v}, %%zmm{t}, %%zmm{accs[r * nv + v]}\\n\\t"')
    body = "\n      ".join(lines)
    clobber = ", ".join(f'"xmm{i}"' for i in range(32))
    step = f'"add ${4 * mr * unroll}, %[a]\\n\\t" "add ${64 * nv * unroll}, %[b]\\n\\t"'
    return f"""static void {fn}(size_t k, const float *a, const float *b, float *c) {{
  size_t ku = k / {unroll};
  __asm__ volatile("1:\\n\\t"
      {body}
      {step} "dec %[ku]\\n\\t" "jnz 1b\\n\\t"
      "vmovups %%zmm31, (%[c])\\n\\t" "vzeroupper\\n\\t"
      : [a] "+r"(a), [b] "+r"(b), [ku] "+r"(ku) : [c] "r"(c) : "memory", "cc", {clobber});
}}
"""


def kernels_h() -> str:
    """tiles_kernels.h for tiles_main.c: one k loop per shape and the tables that describe them."""
    n = len(SHAPES)
    parts = ["#include <stddef.h>", ""]
    parts += [kernel_c(f"k{i}", mr, nv, bc) for i, (_, mr, nv, bc) in enumerate(SHAPES)]
    parts += [
        f"#define NSHAPE {n}",
        f"#define NMODE {len(MODES)}",
        f"#define MODE_K {{{', '.join(str(k) for _, k in MODES)}}}",
        f"static const char *MODE_NAME[NMODE] = {{{', '.join(json.dumps(m) for m, _ in MODES)}}};",
        f"static const int MR[NSHAPE] = {{{', '.join(str(s[1]) for s in SHAPES)}}};",
        f"static const int NV[NSHAPE] = {{{', '.join(str(s[2]) for s in SHAPES)}}};",
        "typedef void (*kfn)(size_t, const float *, const float *, float *);",
        f"static const kfn FN[NSHAPE] = {{{', '.join(f'k{i}' for i in range(n))}}};",
        "",
    ]
    return "\n".join(parts)


def report(r: dict) -> str:
    L = [
        START,
        "## fp32 GEMM tile shapes and where their operands come from (1 thread, AVX-512)",
        "",
        f"`python benchmarks/gemm_anatomy/tile_shapes.py`: each shape's k loop alone (B loads, register "
        f"broadcasts, FMAs), {r['rounds']} rounds in alternation with the register-only FMA loop; % of the "
        "peak measured in the same round, median (best). Bytes per cycle: what the loop reads per cycle "
        "when it runs at the peak (two FMAs per cycle).",
        "",
        "| tile | bytes per k step (B + A) | bytes per cycle at peak | A, B in L1 (k 128) "
        "| A from L2, B in L1 (k 256) | A and B from L2 (k 4096) | A from L2, B from L3 (k 4096) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (name, mr, nv, bc), s in zip(SHAPES, r["shapes"], strict=True):
        per_k = nv * 64 + (mr * 4 if bc else 0)
        cells = [f"{100 * s[m]['median']:.0f}% ({100 * s[m]['best']:.0f}%)" for m, _ in MODES]
        L.append(f"| {name} | {per_k} | {per_k / (mr * nv / 2):.1f} | " + " | ".join(cells) + " |")
    L += [
        "",
        "Ember runs 12x32 (`f32_gemm_12x32p_avx512f`). Read across a row: what the same loop loses when its "
        "operands stream from L2, then from L3. Read down the L3 column: the more B bytes a shape needs per "
        "cycle, the more it loses when B is not in L2, whatever it reaches in L1 or L2. The row without "
        "broadcasts bounds what the 12 broadcast loads of a k step cost. The L3 column is why the GEMM's "
        "first pass over each B slice prefetches (`f32_gemm_12x32ps_avx512f`).",
        END,
    ]
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--no-md", action="store_true", help="print, do not touch RESULTS.md")
    args = ap.parse_args()
    if "avx512f" not in Path("/proc/cpuinfo").read_text(errors="replace"):
        print("this CPU has no AVX-512: the tile shapes are AVX-512 loops")
        return 0
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        raise SystemExit(f"needs a C compiler ({cc}) on PATH")
    with tempfile.TemporaryDirectory(prefix="ember-tiles-") as tmp:
        exe = Path(tmp) / "tiles"
        (Path(tmp) / "tiles_kernels.h").write_text(kernels_h())
        cmd = [cc, "-O2", "-std=c11", "-Wall", "-Wextra", "-mavx512f", "-I", tmp, str(HERE / "tiles_main.c")]
        subprocess.run([*cmd, "-o", str(exe)], check=True)
        out = subprocess.run([str(exe), str(args.rounds)], check=True, capture_output=True, text=True)
    md = report(json.loads(out.stdout))
    print(md)
    if not args.no_md:
        write_section(RESULTS_MD, md, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
