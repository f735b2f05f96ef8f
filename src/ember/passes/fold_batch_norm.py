"""Fold inference batch norm into the conv2d/linear that produces its input.

y = (conv(x, W) + b - mean) * g / sqrt(var + eps) + beta  ==  conv(x, W * s) + (b - mean) * s + beta,
with s = g / sqrt(var + eps) per output channel. Done in float64, stored as float32.
"""

from __future__ import annotations

import numpy as np

from ember.ir.graph import Graph


def fold_batch_norm(graph: Graph) -> Graph:
    consumers = graph.consumers()
    outputs = {v.uid for v in graph.outputs}
    removed = set()
    for bn in graph.nodes:
        if bn.op != "batch_norm" or not all(v.is_const for v in bn.inputs[1:]):
            continue
        x = bn.inputs[0]
        prod = x.producer
        if prod is None or prod.op not in ("conv2d", "linear") or prod.attrs.get("act", 0) != 0:
            continue
        if len(consumers.get(x.uid, [])) != 1 or x.uid in outputs or not prod.inputs[1].is_const:
            continue
        if prod.op == "linear" and len(x.shape) != 2:
            continue  # batch_norm's channel axis is 1; for linear that is the feature axis only at rank 2
        mean, var, g, beta = (v.data.astype(np.float64) for v in bn.inputs[1:])  # type: ignore[union-attr]
        s = g / np.sqrt(var + bn.attrs["eps"])
        w = prod.inputs[1].data.astype(np.float64)  # type: ignore[union-attr]
        w = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
        b = prod.inputs[2].data.astype(np.float64) if len(prod.inputs) > 2 else np.zeros_like(s)  # type: ignore[union-attr]
        b = (b - mean) * s + beta
        prod.inputs = [
            prod.inputs[0],
            graph.const(w.astype(np.float32), prod.inputs[1].name + "_bnfold"),
            graph.const(b.astype(np.float32), prod.name + "_bias_bnfold"),
        ]
        graph.replace_uses(bn.outputs[0], x)
        removed.add(id(bn))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
    return graph
