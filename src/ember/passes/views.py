"""Views as aliases: a reshape of an activation shares its input's bytes instead of copying them.

Marked nodes (NODE_ALIAS) do no work at run time; the memory planner gives input and output one
buffer. A reshape whose output is a graph output, or whose input is a constant, is left as a copy
(graph outputs get their own buffers; constants are folded before this pass).
"""

from __future__ import annotations

from ember.ir.graph import NODE_ALIAS, Graph


def alias_views(graph: Graph) -> Graph:
    outputs = {v.uid for v in graph.outputs}
    for node in graph.nodes:
        if node.op == "reshape" and not node.inputs[0].is_const and node.outputs[0].uid not in outputs:
            node.flags |= NODE_ALIAS
    return graph
