"""Fuse an activation into the epilogue of the conv2d / linear / add that produces its input."""

from __future__ import annotations

import math

from ember.ir.dtypes import DType
from ember.ir.graph import Graph, Node
from ember.ir.ops import Act

FUSIBLE_PRODUCERS = ("conv2d", "linear", "add", "sub", "mul")


def _as_act(node: Node) -> tuple[int, float, float] | None:
    if node.op == "relu":
        return Act.RELU, -math.inf, math.inf
    if node.op == "clamp":
        return Act.CLAMP, node.attrs.get("min", -math.inf), node.attrs.get("max", math.inf)
    simple = {"sigmoid": Act.SIGMOID, "tanh": Act.TANH, "silu": Act.SILU, "hardswish": Act.HARDSWISH}
    if node.op in simple:
        return simple[node.op], -math.inf, math.inf
    if node.op == "gelu":
        return (Act.GELU_TANH if node.attrs.get("approximate") else Act.GELU), -math.inf, math.inf
    return None


def fuse_activation(graph: Graph) -> Graph:
    consumers = graph.consumers()
    outputs = {v.uid for v in graph.outputs}
    removed = set()
    for node in graph.nodes:
        act = _as_act(node)
        if act is None:
            continue
        x = node.inputs[0]
        prod = x.producer
        if prod is None or prod.op not in FUSIBLE_PRODUCERS or id(prod) in removed or x.dtype != DType.F32:
            continue
        if (
            prod.attrs.get("act", Act.NONE) != Act.NONE
            or len(consumers.get(x.uid, [])) != 1
            or x.uid in outputs
        ):
            continue
        if prod.op in ("add", "sub", "mul") and prod.outputs[0].shape != node.outputs[0].shape:
            continue
        prod.attrs.update(act=act[0], act_min=float(act[1]), act_max=float(act[2]))
        graph.replace_uses(node.outputs[0], x)
        removed.add(id(node))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
    return graph
