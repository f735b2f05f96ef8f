"""Fuse an RMS norm written out by hand into one `rms_norm` node.

Llama-style models often define the norm themselves, `x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) +
eps) * w`, which torch.export records as six nodes: mul(x, x), reduce_mean over the last axis, add of a
scalar eps, rsqrt, mul by x, and (optionally) mul by a constant weight of the last axis' length. Each
pass over the rows costs a read and a write of the activation; the fused op reads x twice and writes
once. Matched only when every intermediate has that one reader and is not a graph output, so nothing
else sees a value that disappears. The math is the same; only the rounding order differs (the fused
kernel sums squares in its own order), within the fp32 tolerance the tests use for norms.
"""

from __future__ import annotations

import numpy as np

from ember.ir.dtypes import DType
from ember.ir.graph import Graph, Node, Value


def _plain(node: Node | None, op: str) -> bool:
    return node is not None and node.op == op and node.attrs.get("act", 0) == 0


def fuse_rms_norm(graph: Graph) -> Graph:
    consumers = graph.consumers()
    outputs = {v.uid for v in graph.outputs}

    def only_reader(v: Value) -> bool:
        return v.uid not in outputs and len(consumers.get(v.uid, [])) == 1

    for node in list(graph.nodes):
        if not _plain(node, "mul"):
            continue
        for i in (0, 1):
            x, r = node.inputs[i], node.inputs[1 - i]
            rsqrt = r.producer
            if x.dtype != DType.F32 or not x.shape or not _plain(rsqrt, "rsqrt") or not only_reader(r):
                continue
            assert rsqrt is not None
            s = rsqrt.inputs[0]
            add = s.producer
            if not _plain(add, "add") or not only_reader(s):
                continue
            assert add is not None
            consts = [v for v in add.inputs if v.is_const and v.data is not None and np.size(v.data) == 1]
            if len(consts) != 1:
                continue
            m = add.inputs[1] if add.inputs[0] is consts[0] else add.inputs[0]
            mean = m.producer
            rank = len(x.shape)
            if (
                mean is None
                or mean.op != "reduce_mean"
                or mean.attrs.get("axes_mask") != 1 << (rank - 1)
                or not mean.attrs.get("keepdim")
                or not only_reader(m)
            ):
                continue
            q = mean.inputs[0]
            square = q.producer
            if not _plain(square, "mul") or not only_reader(q):
                continue
            assert square is not None
            if not (square.inputs[0].uid == square.inputs[1].uid == x.uid):
                continue
            eps = float(np.asarray(consts[0].data).reshape(-1)[0])
            if not eps >= 0.0:
                continue
            # a constant weight over the last axis folds in too
            target, inputs = node, [x]
            readers = consumers.get(node.outputs[0].uid, [])
            if only_reader(node.outputs[0]) and _plain(readers[0], "mul"):
                wnode = readers[0]
                w = wnode.inputs[1] if wnode.inputs[0] is node.outputs[0] else wnode.inputs[0]
                if w.is_const and w.dtype == DType.F32 and tuple(w.shape) == (x.shape[-1],):
                    target, inputs = wnode, [x, w]
            target.op = "rms_norm"
            target.inputs = inputs
            target.attrs = {"n_axes": 1, "eps": eps}
            break  # the rest (square, mean, add, rsqrt, the first mul) is dead: DCE removes it
    return graph
