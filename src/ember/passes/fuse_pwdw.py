"""Fuse a 1x1 convolution into the depthwise convolution it feeds (MobileNet's inverted residual).

After the layout pass a pointwise expansion is a `linear` over NHWC pixels whose only reader is a
`dwconv2d_nhwc`. The fused `pwdw_nhwc` makes the expanded tensor a few rows at a time, just before the
depthwise kernel reads them, so it is never written out whole (nor planned in the arena). Worth it only
where that tensor would not stay in cache anyway and rows are wide enough to keep the per-row GEMMs
efficient; elsewhere the two ops stay apart.
"""

from __future__ import annotations

import numpy as np

from ember.ir import ops as opdefs
from ember.ir.dtypes import DType
from ember.ir.graph import Graph, Value

MIN_EXPANDED_BYTES = 1 << 20  # below this the expanded tensor stays in L2 between the two ops
MIN_ROW_PIXELS = 32  # a ring row is one GEMM of W pixels: shorter rows waste the 12-row microkernel


def _bias(graph: Graph, inputs: list[Value], i: int, n: int, name: str) -> Value:
    return inputs[i] if len(inputs) > i else graph.const(np.zeros(n, np.float32), name)


def fuse_pointwise_depthwise(graph: Graph) -> Graph:
    consumers = graph.consumers()
    outputs = {v.uid for v in graph.outputs}
    removed: set[int] = set()
    for lin in graph.nodes:
        if lin.op != "linear" or len(lin.inputs[0].shape) != 4 or lin.inputs[0].dtype != DType.F32:
            continue
        e = lin.outputs[0]
        readers = consumers.get(e.uid, [])
        if (
            len(readers) != 1
            or e.uid in outputs
            or readers[0].op != "dwconv2d_nhwc"
            or readers[0].inputs[0] is not e
        ):
            continue
        dw = readers[0]
        w = lin.inputs[1]
        if not all(v.is_const for v in lin.inputs[1:]) or not all(v.is_const for v in dw.inputs[1:]):
            continue
        _, _, width, n = e.shape
        if e.nbytes < MIN_EXPANDED_BYTES or width < MIN_ROW_PIXELS:
            continue
        assert w.data is not None
        panels = graph.const(opdefs.pack_panels(w.data), w.name + "_panels")
        pbias = _bias(graph, lin.inputs, 2, n, lin.name + "_bias0")
        dbias = _bias(graph, dw.inputs, 2, n, dw.name + "_bias0")
        pw = {"pw_act": lin.attrs.get("act", 0)}
        if "act_min" in lin.attrs:
            pw["pw_act_min"] = lin.attrs["act_min"]
        if "act_max" in lin.attrs:
            pw["pw_act_max"] = lin.attrs["act_max"]
        dw.op = "pwdw_nhwc"
        dw.inputs = [lin.inputs[0], panels, pbias, dw.inputs[1], dbias]
        dw.attrs = {"n": n, **pw, **dw.attrs}
        removed.add(id(lin))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
    return graph
