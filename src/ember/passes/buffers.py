"""Buffer groups: values that share bytes (views, in-place outputs) and their lifetimes in node steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from ember.ir.graph import NODE_ALIAS, NODE_INPLACE, Graph, Value


@dataclass
class Buffer:
    root: Value
    members: list[Value] = field(default_factory=list)
    first: int = 0  # step that writes it (-1: graph input, set before the first node)
    last: int = 0  # last step that reads it (len(nodes): graph output)

    @property
    def nbytes(self) -> int:
        return max(v.nbytes for v in self.members)


def buffer_groups(graph: Graph) -> tuple[dict[int, Buffer], dict[int, int]]:
    """Return buffers by root uid and each arena value's root uid."""
    root: dict[int, int] = {}
    bufs: dict[int, Buffer] = {}
    n = len(graph.nodes)

    def new(v: Value, step: int) -> None:
        root[v.uid] = v.uid
        bufs[v.uid] = Buffer(v, [v], step, step)

    for v in graph.inputs:
        new(v, -1)
    for step, node in enumerate(graph.nodes):
        for v in node.inputs:
            if v.uid in root:
                b = bufs[root[v.uid]]
                b.last = max(b.last, step)
        for k, v in enumerate(node.outputs):
            src = node.inputs[0] if node.inputs else None
            if k == 0 and node.flags & (NODE_ALIAS | NODE_INPLACE) and src is not None and src.uid in root:
                r = root[src.uid]
                root[v.uid] = r
                bufs[r].members.append(v)
                bufs[r].last = max(bufs[r].last, step)
            else:
                new(v, step)
    for v in graph.outputs:
        if v.uid in root:
            bufs[root[v.uid]].last = n
    return bufs, root
