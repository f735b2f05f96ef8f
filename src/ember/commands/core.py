"""`ember export`, `ember run`, `ember inspect`, `ember demo`: the core commands."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ember.errors import EmberError


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export a PyTorch model to an .ember file")
    p.add_argument(
        "target", help="a .pt2 file (torch.export.save) or module:function returning (model, inputs)"
    )
    p.add_argument("-o", "--output", required=True, help="path of the .ember file to write")
    p.add_argument("--no-optimize", action="store_true", help="skip the optimization passes")
    p.add_argument(
        "--quantize",
        metavar="SCHEME",
        choices=["int8", "int8-dynamic", "int4-weight", "auto"],
        help="quantize: int8, int8-dynamic, int4-weight or auto (docs/quantization.md)",
    )
    p.add_argument(
        "--calibration", metavar="DIR_OR_NPZ", help="calibration inputs for int8 / auto (.npz or dir)"
    )
    p.add_argument("--group-size", type=int, default=32, help="int4 group size (default 32)")
    p.add_argument("--max-error", type=float, default=None, help="auto: largest accepted output error")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("run", help="run an .ember file on inputs from an .npz (or random inputs)")
    p.add_argument("model")
    p.add_argument("--input", help=".npz with one array per input (by name, or arr_0, arr_1, ...)")
    p.add_argument("--output", help="write the outputs to this .npz")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0, help="seed for random inputs")
    p.add_argument("--profile", action="store_true", help="print the per-op time profile")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("inspect", help="describe an .ember file: ops, parameters, size, memory plan")
    p.add_argument("model")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser(
        "demo", help="the built-in example: export a bundled model, run it, compare with PyTorch"
    )
    p.add_argument("--model", default="mobilenet_v2", help="a factory in ember.examples.models")
    p.add_argument("--out", default="out", help="folder for the .ember file")
    p.set_defaults(func=cmd_demo)


def _load_target(target: str) -> tuple[Any, tuple[Any, ...]]:
    import torch

    if target.endswith(".pt2") or os.path.isfile(target):
        if not os.path.isfile(target):
            raise EmberError(f"no such file: {target}")
        ep = torch.export.load(target)
        return ep, ()
    if ":" not in target:
        raise EmberError(f"'{target}' is neither a .pt2 file nor module:function")
    mod_name, fn_name = target.split(":", 1)
    sys.path.insert(0, os.getcwd())
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise EmberError(f"cannot import {target}: {exc}") from exc
    result = fn()
    if not (isinstance(result, tuple) and len(result) == 2):
        raise EmberError(f"{target} must return (model, example_inputs), got {type(result).__name__}")
    model, inputs = result
    return model, tuple(inputs)


def cmd_export(args: argparse.Namespace) -> int:
    import ember

    model, inputs = _load_target(args.target)
    t0 = time.perf_counter()
    prog = ember.export(model, inputs, optimize=not args.no_optimize)
    if args.quantize:
        opts: dict[str, Any] = {"scheme": args.quantize, "group_size": args.group_size}
        if args.calibration:
            opts["calibration"] = args.calibration
        if args.max_error is not None:
            opts["max_error"] = args.max_error
        prog = ember.quantize(prog, **opts)
        print(prog.quant_report())
    path = prog.save(args.output)
    s = prog.summary()
    print(
        f"exported {args.target} -> {path} in {time.perf_counter() - t0:.1f}s: {s['nodes']} nodes, "
        f"{s['params']:,} parameters, {path.stat().st_size:,} bytes"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import ember

    mod = ember.load(args.model, threads=args.threads)
    from ember.bench.model import make_inputs

    inputs = make_inputs(mod, args.input, args.seed)
    t0 = time.perf_counter()
    outs = mod(*inputs)
    ms = (time.perf_counter() - t0) * 1e3
    for spec, y in zip(mod.outputs, outs):
        flat = y.reshape(-1)
        print(
            f"{spec.name}: {y.dtype}{list(y.shape)} first={np.array2string(flat[:5], precision=5)} "
            f"mean={float(flat.astype(np.float64).mean()):.5g}"
        )
    print(f"ran in {ms:.2f} ms (first run)")
    if args.output:
        np.savez(args.output, **{s.name: y for s, y in zip(mod.outputs, outs)})
    if args.profile:
        rows = mod.profile(*inputs, runs=5)
        total = sum(r["ms"] for r in rows) or 1.0
        print(f"{'node':40s} {'op':20s} {'ms':>9s} {'%':>6s}")
        for r in rows[:20]:
            print(f"{r['node'][:40]:40s} {r['op']:20s} {r['ms']:9.3f} {100 * r['ms'] / total:6.1f}")
    return 0


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n:,} B"


def inspect_report(path: str) -> dict[str, Any]:
    from ember.format.reader import read_file

    f = read_file(path)
    rep = {
        "file": path,
        "file_bytes": os.path.getsize(path),
        "format_version": f"{f.version[0]}.{f.version[1]}",
        "producer": f.metadata.get("producer"),
        "inputs": [
            {"name": f.tensors[i].name, "dtype": f.tensors[i].dtype.short, "shape": list(f.tensors[i].shape)}
            for i in f.inputs
        ],
        "outputs": [
            {"name": f.tensors[i].name, "dtype": f.tensors[i].dtype.short, "shape": list(f.tensors[i].shape)}
            for i in f.outputs
        ],
        "nodes": len(f.nodes),
        "op_counts": f.op_counts(),
        "params": f.param_count,
        "weight_bytes": f.const_size,
        "arena_bytes": f.arena_bytes,
        "arena_lower_bound_bytes": f.lower_bound,
        "arena_over_lower_bound": round(f.arena_bytes / f.lower_bound, 4) if f.lower_bound else 1.0,
        "views_aliased": sum(1 for n in f.nodes if n.flags & 1),
        "in_place": sum(1 for n in f.nodes if n.flags & 2),
    }
    return rep


def cmd_inspect(args: argparse.Namespace) -> int:
    import ember

    ember.load(args.model)  # the runtime's own validation, exactly as on a device
    rep = inspect_report(args.model)
    if args.json:
        print(json.dumps(rep, indent=2))
        return 0
    print(f"{rep['file']}: .ember {rep['format_version']} by {rep['producer']}, {_mb(rep['file_bytes'])}")
    for kind in ("inputs", "outputs"):
        for t in rep[kind]:
            print(f"  {kind[:-1]:6s} {t['name']}: {t['dtype']}{t['shape']}")
    print(f"  parameters: {rep['params']:,} ({_mb(rep['weight_bytes'])} of weights, used in place via mmap)")
    print(f"  nodes: {rep['nodes']}  ({rep['views_aliased']} views aliased, {rep['in_place']} in place)")
    print("  ops: " + ", ".join(f"{k} x{v}" for k, v in rep["op_counts"].items()))
    print(
        f"  arena: {_mb(rep['arena_bytes'])} planned, lower bound {_mb(rep['arena_lower_bound_bytes'])} "
        f"(x{rep['arena_over_lower_bound']:.3f})"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import torch

    import ember
    from ember.examples import models

    factory = getattr(models, args.model, None)
    if factory is None:
        raise EmberError(f"no example model '{args.model}' in ember.examples.models")
    model, inputs = factory()
    print(
        f"[1/4] built {args.model} in plain PyTorch "
        f"({sum(p.numel() for p in model.parameters()):,} parameters)"
    )
    t0 = time.perf_counter()
    prog = ember.export(model, inputs)
    s = prog.summary()
    print(
        f"[2/4] exported with torch.export and compiled in {time.perf_counter() - t0:.1f}s: "
        f"{s['nodes']} nodes "
        f"({', '.join(f'{k} x{v}' for k, v in s['op_counts'].items())})"
    )
    path = Path(args.out) / f"{args.model}.ember"
    prog.save(path)
    print(
        f"[3/4] wrote {path} ({path.stat().st_size:,} bytes); "
        f"arena {s['arena_bytes']:,} bytes planned, lower bound {s['arena_lower_bound_bytes']:,}"
    )
    mod = ember.load(path)
    np_inputs = [x.numpy() for x in inputs]
    t0 = time.perf_counter()
    outs = mod(*np_inputs)
    ms = (time.perf_counter() - t0) * 1e3
    with torch.no_grad():
        ref = model(*inputs)
    ref = ref if isinstance(ref, tuple) else (ref,)
    err = max(float(np.abs(o - r.numpy()).max()) for o, r in zip(outs, ref))
    print(
        f"[4/4] ran it in the C runtime in {ms:.1f} ms (reference kernels); max |ember - pytorch| = {err:.2e}"
    )
    if err > 1e-4:
        raise EmberError(f"output differs from PyTorch by {err:.2e} (> 1e-4)")
    print("OK: the .ember model matches PyTorch.")
    return 0
