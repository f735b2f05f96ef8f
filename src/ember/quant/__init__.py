"""Post-training quantization of an exported `ember.Program` (docs/quantization.md).

qprog = ember.quantize(prog, calibration=batches, scheme="int8")
qprog = ember.quantize(prog, scheme="int8-dynamic")
qprog = ember.quantize(prog, scheme="int4-weight", group_size=32)
qprog = ember.quantize(prog, calibration=batches, scheme="auto", max_error=0.01)
print(qprog.quant_report())
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.errors import EmberError
from ember.ir.graph import Graph, Node
from ember.program import Program
from ember.quant.calibrate import as_batches, tapped_runs
from ember.quant.observers import OBSERVERS, Observer, make_observer
from ember.quant.rewrite import SCHEMES, Rewritten, eligible, rewrite
from ember.quant.weights import cosine, sqnr_db

__all__ = ["quantize", "QuantProgram", "OBSERVERS", "SCHEMES"]

_LAYER_OPS = ("conv2d", "linear", "embedding")


class QuantProgram(Program):
    """An `ember.Program` that also knows how it was quantized and what it cost."""

    quant_layers: list[dict[str, Any]]
    quant_summary: dict[str, Any]

    def quant_report(self) -> str:
        """Per layer: scheme, SQNR (dB) and cosine of its output vs fp32 on calibration data, and
        bytes saved; then the whole model."""
        head = (
            f"{'layer':<28} {'op':<9} {'scheme':<13} {'SQNR dB':>8} {'cosine':>8} {'w SQNR':>7} "
            f"{'bytes':>10} {'saved':>10}"
        )
        lines = [head, "-" * len(head)]
        for r in self.quant_layers:
            lines.append(
                f"{r['layer'][:28]:<28} {r['op']:<9} {r['scheme']:<13} {_fmt(r.get('sqnr_db')):>8} "
                f"{_fmt(r.get('cosine'), 5):>8} {_fmt(r.get('weight_sqnr_db'), 1):>7} {r['bytes']:>10,} "
                f"{r['bytes_saved']:>10,}" + (f"  ({r['notes']})" if r.get("notes") else "")
            )
        s = self.quant_summary
        lines.append("-" * len(head))
        lines.append(
            f"model outputs: SQNR {_fmt(s.get('output_sqnr_db'))} dB, "
            f"cosine {_fmt(s.get('output_cosine'), 5)}; "
            f"weights {s['fp32_weight_bytes']:,} -> {s['quant_weight_bytes']:,} bytes; "
            f"file {s['file_bytes']:,} bytes ({s['file_ratio']:.3f}x fp32)"
        )
        if s.get("choice"):
            lines.append(s["choice"])
        return "\n".join(lines)


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and not np.isfinite(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{nd}f}"


def _layers(graph: Graph) -> list[Node]:
    return [n for n in graph.nodes if n.op in _LAYER_OPS]


def quantize(
    program: Program,
    calibration: Any = None,
    scheme: str = "int8",
    group_size: int = 32,
    observer: str = "minmax",
    max_error: float | None = None,
    layers: dict[str, str] | None = None,
    report_batches: int = 4,
) -> QuantProgram:
    """Quantize `program` (see module doc). `layers` overrides the scheme per layer (node name ->
    scheme, "fp32" keeps a layer in float). `observer` picks the activation range observer for int8
    static: minmax, moving_average, percentile or mse. `max_error` (scheme="auto") bounds the relative
    output error (1 - cosine of the model outputs vs fp32 on calibration data)."""
    src = getattr(program, "source_graph", None)
    if src is None:
        raise EmberError(
            "this Program has no source graph (was it loaded from a file?); "
            "quantize the Program that ember.export returns"
        )
    if scheme not in (*SCHEMES, "auto") or scheme == "fp32":
        raise EmberError(f"unknown scheme {scheme!r}; choose int8, int8-dynamic, int4-weight or auto")
    if group_size not in (16, 32, 64, 128, 256):
        raise EmberError(f"group_size must be 16, 32, 64, 128 or 256, got {group_size}")
    if observer not in OBSERVERS:
        raise EmberError(f"unknown observer {observer!r}; choose one of {', '.join(OBSERVERS)}")
    batches = as_batches(calibration, src.inputs) if calibration is not None else None
    if scheme in ("int8", "auto") and batches is None:
        raise EmberError(
            f"scheme {scheme!r} needs calibration data (calibration=[batch, ...] of model inputs); "
            "int8-dynamic and int4-weight do not"
        )

    plan: dict[str, str] = {}
    notes: dict[str, str] = {}
    for n in _layers(src):
        want = scheme if scheme != "auto" else "int8"
        if layers and n.name in layers:
            want = layers[n.name]
        why = eligible(n, want, group_size)
        if why and scheme == "int8" and n.op == "linear" and not eligible(n, "int8-dynamic", group_size):
            want, why = "int8-dynamic", ""  # e.g. a GELU epilogue: dynamic int8 still applies
        plan[n.name] = "fp32" if why else want
        if why and n.op != "embedding":
            notes[n.name] = why

    # calibration: activation ranges (int8 static) and fp32 layer outputs (report, auto)
    obs: dict[int, Observer] = {}
    ref_taps: list[dict[int, Any]] = []
    if batches is not None:
        taps = set()
        for n in _layers(src):
            taps.add(n.outputs[0].uid)
            if n.op != "embedding":
                taps.add(n.inputs[0].uid)
        taps.update(n.outputs[0].uid for n in src.nodes if n.op == "add")  # candidates for qadd
        taps_l = sorted(taps)
        obs = {u: make_observer(observer) for u in taps_l}
        for i, d in enumerate(tapped_runs(src, taps_l, batches)):
            for u in taps_l:
                obs[u].observe(d[u])
            if i < report_batches:
                ref_taps.append(d)

    def ranges(uid: int) -> tuple[float, float]:
        return obs[uid].range()

    choice = ""
    if scheme == "auto":
        from ember.quant.auto import choose_plan

        plan, choice = choose_plan(src, plan, ranges, ref_taps, batches, group_size, max_error)
        notes = {k: v for k, v in notes.items() if plan.get(k) == "fp32"}
        notes.update({k: "kept in fp32 by auto" for k, s in plan.items() if s == "fp32" and k not in notes})

    rw = rewrite(src, plan, ranges if obs else None, group_size)
    from ember.passes.pipeline import compile_graph

    meta = dict(program.metadata)
    meta["quantization"] = {
        "scheme": scheme,
        "group_size": group_size,
        "observer": observer if obs else None,
        "layers": {k: v for k, v in plan.items()},
    }
    p = compile_graph(rw.graph, metadata=meta)
    qp = QuantProgram(p.graph, p.plan, p.metadata, source_graph=p.source_graph)
    _report(qp, program, src, plan, rw, notes, ranges if obs else None, group_size, batches, ref_taps)
    qp.quant_summary["choice"] = choice
    return qp


def _report(
    qp: QuantProgram,
    program: Program,
    src: Graph,
    plan: dict[str, str],
    rw: Rewritten,
    notes: dict[str, str],
    ranges: Any,
    group_size: int,
    batches: Any,
    ref_taps: list[dict[int, Any]],
) -> None:
    from ember.passes.pipeline import compile_graph
    from ember.quant.weights import dequant_int4, int8_per_channel

    rows: list[dict[str, Any]] = []
    by_name = {n.name: n for n in src.nodes}
    layer_out: dict[str, list[np.ndarray]] = {}
    model_out: list[list[np.ndarray]] = []
    if ref_taps:
        dbg = rewrite(src, plan, ranges, group_size, debug_outputs=True)
        mod = compile_graph(dbg.graph).load()
        n_out = len(src.outputs)
        for b in batches[: len(ref_taps)]:
            res = mod(*b)
            model_out.append(list(res[:n_out]))
            for info, arr in zip(dbg.layers, res[n_out:]):
                layer_out.setdefault(info.name, []).append(arr)
    for info in rw.layers:
        node = by_name[info.name]
        w = node.inputs[0 if node.op == "embedding" else 1]
        assert w.data is not None
        if info.scheme == "int4-weight":
            from ember.quant.weights import int4_groupwise

            wd = dequant_int4(*int4_groupwise(w.data.reshape(w.shape[0], -1), group_size), group_size)
        else:
            q, s = int8_per_channel(w.data)
            wd = q.astype(np.float32) * s.reshape(-1, *([1] * (q.ndim - 1)))
        row: dict[str, Any] = {
            "layer": info.name,
            "op": info.op,
            "scheme": info.scheme,
            "weight_sqnr_db": sqnr_db(w.data, wd.reshape(w.shape)),
            "bytes": info.quant_bytes,
            "bytes_saved": info.fp32_bytes - info.quant_bytes,
        }
        if info.name in layer_out:
            ref = np.concatenate([d[info.out_uid].ravel() for d in ref_taps])
            got = np.concatenate([a.ravel() for a in layer_out[info.name]])
            row["sqnr_db"] = sqnr_db(ref, got)
            row["cosine"] = cosine(ref, got)
        rows.append(row)
    for name, why in notes.items():
        node = by_name[name]
        rows.append(
            {
                "layer": name,
                "op": node.op,
                "scheme": "fp32",
                "bytes": _wbytes(node),
                "bytes_saved": 0,
                "notes": why,
            }
        )
    summary: dict[str, Any] = {
        "fp32_weight_bytes": sum(v.nbytes for v in src.constants()),
        "quant_weight_bytes": sum(v.nbytes for v in qp.graph.constants()),
        "file_bytes": len(qp.to_bytes()),
        "file_ratio": len(qp.to_bytes()) / max(1, len(program.to_bytes())),
    }
    if model_out:
        ref = np.concatenate([d[-(i + 1)].ravel() for d in ref_taps for i in range(len(src.outputs))])
        got = np.concatenate([o.ravel() for outs in model_out for o in outs])
        summary["output_sqnr_db"] = sqnr_db(ref, got)
        summary["output_cosine"] = cosine(ref, got)
    qp.quant_layers = rows
    qp.quant_summary = summary


def _wbytes(node: Node) -> int:
    return sum(v.nbytes for v in node.inputs if v.is_const)
