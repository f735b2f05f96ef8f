"""Give every graph output its own activation buffer: outputs that are constants, graph inputs or
repeated values get a `copy` node, so the runtime can hand out each output independently."""

from __future__ import annotations

from ember.ir.graph import Graph


def legalize_outputs(graph: Graph) -> Graph:
    inputs = {v.uid for v in graph.inputs}
    seen: set[int] = set()
    new_outputs = []
    for v in graph.outputs:
        if v.is_const or v.uid in inputs or v.uid in seen:
            v = graph.add_node("copy", [v], name=f"{v.name}_out")[0]
        seen.add(v.uid)
        new_outputs.append(v)
    graph.outputs = new_outputs
    return graph
