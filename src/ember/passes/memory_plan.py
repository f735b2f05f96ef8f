"""Ahead-of-time memory planning: every activation buffer gets a fixed offset in one arena.

Lifetimes come from buffer groups (views and in-place outputs share their input's buffer). Buffers
are placed greedily, each at the best-fitting gap (the smallest gap that holds it) among already
placed buffers whose lifetimes overlap, else on top. Greedy placement depends on the order, so a
few orders are tried (largest first, largest size x lifetime first, earliest first, longest-lived
first, then seeded jittered largest-first orders while above the bound) and the smallest arena kept.
The lower bound is the largest total of buffers live at any one step: no plan can use less.
"""

from __future__ import annotations

import random
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


def _place(items: list) -> tuple[dict[int, int], int]:  # type: ignore[type-arg]
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
    return offset_of, max((o + s for o, s, _, _ in placed), default=0)


# Placement orders tried; the smallest arena wins (greedy placement is sensitive to order, and each of
# these is best on some graphs: size alone fragments when a big short-lived buffer sits between
# long-lived ones)
_ORDERS = (
    lambda b: (-align(b.nbytes), b.first, b.root.name),
    lambda b: (-align(b.nbytes) * (b.last - b.first + 1), b.first, b.root.name),
    lambda b: (b.first, -align(b.nbytes), b.root.name),
    lambda b: (-(b.last - b.first), -align(b.nbytes), b.root.name),
)


def plan_memory(graph: Graph) -> MemoryPlan:
    bufs, root = buffer_groups(graph)
    offset_of, arena = min((_place(sorted(bufs.values(), key=k)) for k in _ORDERS), key=lambda r: r[1])
    steps = range(-1, len(graph.nodes) + 1)
    lower = max(
        (sum(align(b.nbytes) for b in bufs.values() if b.first <= t <= b.last) for t in steps), default=0
    )
    # still above the bound: largest-first with sizes jittered by up to 30% (seeded, so the same graph
    # always gets the same plan), until the bound is met or the budget of tries is spent
    rng = random.Random(0)
    items = list(bufs.values())
    for _ in range(min(64, max(8, 400_000 // max(1, len(items) ** 2)))):
        if align(arena) <= lower:
            break
        jitter = {b.root.uid: 0.7 + 0.6 * rng.random() for b in items}
        cand, size = _place(sorted(items, key=lambda b: (-align(b.nbytes) * jitter[b.root.uid], b.root.name)))
        if size < arena:
            offset_of, arena = cand, size
    offsets = {uid: offset_of[r] for uid, r in root.items()}
    return MemoryPlan(offsets, align(arena), lower, len(bufs))
