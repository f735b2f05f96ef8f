"""In-place reuse: an elementwise node whose input 0 dies at that node writes over input 0's bytes.

Only when input 0 has the output's shape and dtype, is an activation (not a constant or a graph
input, which the caller may reuse), is not a graph output, and no other value sharing its buffer is
read later. The reference kernels of these ops are written to be correct when out == in.
"""

from __future__ import annotations

from ember.ir.graph import NODE_INPLACE, Graph
from ember.passes.buffers import buffer_groups

INPLACE_OPS = {
    "add",
    "sub",
    "mul",
    "div",
    "maximum",
    "minimum",
    "relu",
    "sigmoid",
    "tanh",
    "silu",
    "gelu",
    "hardswish",
    "hardsigmoid",
    "sqrt",
    "rsqrt",
    "exp",
    "log",
    "neg",
    "abs",
    "sin",
    "cos",
    "erf",
    "reciprocal",
    "clamp",
}


def inplace_reuse(graph: Graph) -> Graph:
    inputs = {v.uid for v in graph.inputs}
    outputs = {v.uid for v in graph.outputs}
    for step, node in enumerate(graph.nodes):
        if node.op not in INPLACE_OPS or node.flags:
            continue
        x, y = node.inputs[0], node.outputs[0]
        if x.is_const or x.shape != y.shape or x.dtype != y.dtype:
            continue
        bufs, root = buffer_groups(graph)  # recomputed: earlier decisions change lifetimes
        if x.uid not in root:
            continue
        b = bufs[root[x.uid]]
        if b.last != step or any(m.uid in inputs or m.uid in outputs for m in b.members):
            continue
        if any(m is v for m in b.members for v in node.inputs[1:]):
            continue  # x*x or x*view(x): input 0's bytes are also read as another input while written
        node.flags |= NODE_INPLACE
    return graph
