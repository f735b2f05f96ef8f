"""Fuse a residual add into the convolution that feeds it (ResNet's and MobileNet's skip connections).

After the layout pass, `add(conv(x), skip)` (either operand order), where the convolution has no
activation of its own and the add is its only reader, becomes the convolution with `skip` as its
optional residual input and the add's activation (relu) as its epilogue: one pass over the output
instead of two, and one tensor fewer in the arena. conv2d_nhwc, conv2d_winograd and linear_packed (1x1
convolutions after the layout pass, and transformer projections) take a residual.
"""

from __future__ import annotations

import numpy as np

from ember.ir.graph import Graph

_TAKES_RESIDUAL = ("conv2d_nhwc", "conv2d_winograd", "linear_packed")


def fuse_residual_add(graph: Graph) -> Graph:
    consumers = graph.consumers()
    outputs = {v.uid for v in graph.outputs}
    removed: set[int] = set()
    order = {id(n): k for k, n in enumerate(graph.nodes)}
    for add in graph.nodes:
        if (
            add.op != "add"
            or add.outputs[0].shape != add.inputs[0].shape
            or add.inputs[0].shape != add.inputs[1].shape
        ):
            continue
        for i in (0, 1):
            conv_out, skip = add.inputs[i], add.inputs[1 - i]
            conv = conv_out.producer
            if conv is None or conv.op not in _TAKES_RESIDUAL or id(conv) in removed or len(conv.inputs) > 3:
                continue
            if (
                conv.attrs.get("act", 0) != 0
                or conv_out.uid in outputs
                or len(consumers.get(conv_out.uid, [])) != 1
            ):
                continue
            if skip is conv_out or skip.dtype != conv_out.dtype:
                continue
            # the convolution now reads the skip: it must already exist when the convolution runs
            if skip.producer is not None and order[id(skip.producer)] > order[id(conv)]:
                continue
            n = conv_out.shape[-1]
            bias = (
                conv.inputs[2]
                if len(conv.inputs) > 2
                else graph.const(np.zeros(n, np.float32), conv.name + "_bias0")
            )
            conv.inputs = [conv.inputs[0], conv.inputs[1], bias, skip]
            conv.attrs = {
                **conv.attrs,
                **{k: add.attrs[k] for k in ("act", "act_min", "act_max") if k in add.attrs},
            }
            graph.replace_uses(add.outputs[0], conv_out)
            removed.add(id(add))
            break
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
    return graph
