"""Pack constant linear weights at export into the GEMM microkernels' panel layout (linear_packed), so
the runtime reads them in place from the mapped file: no repacking, no copy at load."""

from __future__ import annotations

from ember.ir.dtypes import DType
from ember.ir.graph import Graph
from ember.ir.ops import pack_panels


def pack_linear_weights(graph: Graph) -> Graph:
    for node in graph.nodes:
        if node.op != "linear":
            continue
        w = node.inputs[1]
        if not w.is_const or w.dtype != DType.F32 or node.inputs[0].dtype != DType.F32:
            continue
        assert w.data is not None
        packed = graph.const(pack_panels(w.data), w.name + "_panels")
        node.op = "linear_packed"
        node.inputs = [node.inputs[0], packed, *node.inputs[2:]]
        node.attrs = {"n": w.shape[0], **node.attrs}
    return graph
