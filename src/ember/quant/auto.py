"""scheme="auto": mixed precision under an output-error budget.

1. Sensitivity: quantize one layer at a time with each scheme it can take (int4-weight, int8 or
   int8-dynamic), everything else fp32, and measure the model-output error on calibration batches:
   error = 1 - cosine(outputs, fp32 outputs).
2. Choice: start from every layer at its smallest format; while the sum of the per-layer errors is
   over `max_error`, move one layer to its next larger format, picking the move that removes the most
   error per byte added. Errors of different layers roughly add for small errors; to be sure, the
   combined plan is then measured, and while it is still over budget the layer whose current format
   is most sensitive moves up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.ir.graph import Graph, Node
from ember.quant.rewrite import eligible, rewrite
from ember.quant.weights import cosine

DEFAULT_MAX_ERROR = 0.01


def _ladder(node: Node, group_size: int) -> list[str]:
    """Formats for a layer from smallest to largest (fp32 last)."""
    out = []
    for s in ("int4-weight", "int8", "int8-dynamic"):
        if not eligible(node, s, group_size):
            out.append(s)
    if "int8" in out and "int8-dynamic" in out:
        out.remove("int8-dynamic")  # same size; static int8 also runs int8 in between layers
    return out + ["fp32"]


def _bytes(node: Node, scheme: str, group_size: int) -> float:
    w = node.inputs[0 if node.op == "embedding" else 1]
    n = w.numel
    return {"int4-weight": n * (0.5 + 2 / group_size), "int8": n + 8 * w.shape[0], "fp32": 4 * n}.get(
        scheme, n + 4 * w.shape[0]
    )


def choose_plan(
    src: Graph,
    base_plan: dict[str, str],
    ranges: Any,
    ref_taps: list[dict[int, Any]],
    batches: list[tuple[np.ndarray, ...]],
    group_size: int,
    max_error: float | None,
) -> tuple[dict[str, str], str]:
    from ember.passes.pipeline import compile_graph

    budget = DEFAULT_MAX_ERROR if max_error is None else float(max_error)
    n_out = len(src.outputs)
    ref = np.concatenate([d[-(i + 1)].ravel() for d in ref_taps for i in range(n_out)])
    evals = batches[: len(ref_taps)]

    def error(plan: dict[str, str]) -> float:
        mod = compile_graph(rewrite(src, plan, ranges, group_size).graph).load()
        got = np.concatenate([o.ravel() for b in evals for o in mod(*b)[:n_out]])
        return max(0.0, 1.0 - cosine(ref, got))

    nodes = {n.name: n for n in src.nodes if n.name in base_plan}
    ladders = {k: _ladder(n, group_size) for k, n in nodes.items()}
    fp32 = {k: "fp32" for k in nodes}
    sens: dict[str, dict[str, float]] = {
        k: {s: (error({**fp32, k: s}) if s != "fp32" else 0.0) for s in lad} for k, lad in ladders.items()
    }
    level = dict.fromkeys(nodes, 0)

    def cur(k: str) -> str:
        return ladders[k][level[k]]

    while sum(sens[k][cur(k)] for k in nodes) > budget:
        best, best_gain = None, -1.0
        for k in nodes:
            if level[k] + 1 >= len(ladders[k]):
                continue
            nxt = ladders[k][level[k] + 1]
            gain = (sens[k][cur(k)] - sens[k][nxt]) / max(
                1.0, _bytes(nodes[k], nxt, group_size) - _bytes(nodes[k], cur(k), group_size)
            )
            if gain > best_gain:
                best, best_gain = k, gain
        if best is None:
            break
        level[best] += 1
    plan = {k: cur(k) for k in nodes}
    measured = error(plan)
    while measured > budget:
        movable = [k for k in nodes if level[k] + 1 < len(ladders[k])]
        if not movable:
            break
        k = max(movable, key=lambda k: sens[k][cur(k)])
        level[k] += 1
        plan = {k: cur(k) for k in nodes}
        measured = error(plan)
    counts: dict[str, int] = {}
    for s in plan.values():
        counts[s] = counts.get(s, 0) + 1
    chosen = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    worst = sorted(((max(sens[k].values()), k) for k in nodes), reverse=True)[:3]
    why = (
        "; most sensitive: " + ", ".join(f"{k} ({e:.2e} at {ladders[k][0]})" for e, k in worst)
        if worst
        else ""
    )
    return plan, (
        f"auto: max_error {budget:g} (1 - cosine of the outputs on calibration data); chose {chosen}; "
        f"measured error {measured:.2e}{why}"
    )
