"""Ahead-of-time memory planning: every activation buffer gets a fixed offset in one arena.

Lifetimes come from buffer groups (views and in-place outputs share their input's buffer). Buffers
are placed greedily by size, largest first, each at the best-fitting gap (the smallest gap that
holds it) among already placed buffers whose lifetimes overlap, else on top. The lower bound is the
largest total of buffers live at any one step: no plan can use less.
"""

from __future__ import annotations

from dataclasses import dataclass

from ember.format.layout import align
from ember.ir.graph import Graph
from ember.passes.buffers import buffer_groups


@dataclass
class MemoryPlan:
    offsets: dict[int, int]  # value uid -> arena offset
    arena_bytes: int
    lower_bound: int
    n_buffers: int

    @property
    def ratio(self) -> float:
        return self.arena_bytes / self.lower_bound if self.lower_bound else 1.0


def plan_memory(graph: Graph) -> MemoryPlan:
    bufs, root = buffer_groups(graph)
    items = sorted(bufs.values(), key=lambda b: (-align(b.nbytes), b.first, b.root.name))
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last)
    offset_of: dict[int, int] = {}
    for b in items:
        size = align(b.nbytes)
        live = sorted((o, s) for o, s, f, l in placed if not (l < b.first or f > b.last))
        best, best_gap, cursor = None, None, 0
        for o, s in live:
            gap = o - cursor
            if gap >= size and (best_gap is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, o + s)
        off = best if best is not None else cursor
        placed.append((off, size, b.first, b.last))
        offset_of[b.root.uid] = off
    arena = max((o + s for o, s, _, _ in placed), default=0)
    steps = range(-1, len(graph.nodes) + 1)
    lower = max(
        (sum(align(b.nbytes) for b in bufs.values() if b.first <= t <= b.last) for t in steps), default=0
    )
    offsets = {uid: offset_of[r] for uid, r in root.items()}
    return MemoryPlan(offsets, align(arena), lower, len(bufs))
