"""Constant folding: a node whose inputs are all constants becomes a constant (numpy reference).

Folding never grows the file much: an output larger than `max_growth` x its inputs (and above
64 KiB) is left to run on the device, e.g. an `expand` of a small constant into a big tensor.
"""

from __future__ import annotations

from ember.ir import ops as opdefs
from ember.ir.graph import Graph


def constant_fold(graph: Graph, max_growth: float = 4.0) -> Graph:
    kept = []
    for node in graph.nodes:
        if node.inputs and all(v.is_const for v in node.inputs):
            in_bytes = sum(v.nbytes for v in node.inputs)
            out_bytes = sum(v.nbytes for v in node.outputs)
            if out_bytes <= max(64 * 1024, max_growth * in_bytes):
                results = opdefs.reference(node.opdef, [v.data for v in node.inputs], node.attrs)  # type: ignore[misc]
                for v, r in zip(node.outputs, results):
                    v.data = r.astype(v.dtype.to_numpy()).reshape(v.shape)
                    v.producer = None
                continue
        kept.append(node)
    graph.nodes = kept
    return graph
