"""Ember IR: a Graph of Nodes over typed Values with static shapes.

A Value is produced by at most one node (or is a graph input or a constant). Nodes are kept in a
valid execution order. Passes rewrite graphs; `Graph.verify()` re-checks every invariant.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ember.ir import ops as opdefs
from ember.ir.dtypes import MAX_RANK, DType

_ids = itertools.count()


@dataclass(eq=False)
class Value:
    name: str
    dtype: DType
    shape: tuple[int, ...]
    data: np.ndarray | None = None  # set for constants
    producer: Node | None = None
    uid: int = field(default_factory=lambda: next(_ids))

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        n = self.dtype.itemsize
        for d in self.shape:
            n *= d
        return n

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self) -> str:
        kind = "const " if self.is_const else ""
        return f"%{self.name}: {kind}{self.dtype.short}{list(self.shape)}"


@dataclass(eq=False)
class Node:
    op: str
    inputs: list[Value]
    outputs: list[Value]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    source: str = ""  # model source location, for error messages
    flags: int = 0  # NODE_ALIAS / NODE_INPLACE, set by passes

    @property
    def opdef(self) -> opdefs.OpDef:
        return opdefs.OPS[self.op]

    def __repr__(self) -> str:
        args = ", ".join(f"%{v.name}" for v in self.inputs)
        outs = ", ".join(f"%{v.name}" for v in self.outputs)
        attrs = {k: v for k, v in self.attrs.items()}
        return f"{outs} = {self.op}({args}){' ' + str(attrs) if attrs else ''}"


NODE_ALIAS = 1
NODE_INPLACE = 2


class Graph:
    def __init__(self) -> None:
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.nodes: list[Node] = []
        self.meta: dict[str, Any] = {}
        self._names: set[str] = set()
        self._node_names: set[str] = set()

    # -- construction -------------------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        base = "".join(c if c.isalnum() or c in "._" else "_" for c in base) or "v"
        name, k = base, 1
        while name in self._names:
            name = f"{base}_{k}"
            k += 1
        self._names.add(name)
        return name

    def add_input(self, name: str, dtype: DType, shape: Iterable[int]) -> Value:
        v = Value(self.unique_name(name), dtype, tuple(int(d) for d in shape))
        self.inputs.append(v)
        return v

    def const(self, array: np.ndarray, name: str = "const") -> Value:
        arr = np.ascontiguousarray(array)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        return Value(self.unique_name(name), DType.from_numpy(arr.dtype), tuple(arr.shape), data=arr)

    def add_node(
        self,
        op: str,
        inputs: list[Value],
        attrs: dict[str, Any] | None = None,
        name: str = "",
        source: str = "",
    ) -> list[Value]:
        opdef = opdefs.OPS[op]
        attrs = dict(attrs or {})
        outs_t = opdefs.infer(opdef, [v.shape for v in inputs], [v.dtype for v in inputs], attrs)
        base = name or op
        node_name, k = base, 1
        while node_name in self._node_names:
            node_name = f"{base}_{k}"
            k += 1
        self._node_names.add(node_name)
        node = Node(op, list(inputs), [], attrs, name=node_name, source=source)
        for k, (shape, dtype) in enumerate(outs_t):
            if len(shape) > MAX_RANK:
                raise ValueError(
                    f"{op} would produce a rank-{len(shape)} tensor; Ember supports rank <= {MAX_RANK}"
                )
            v = Value(self.unique_name(base if k == 0 else f"{base}_{k}"), dtype, shape, producer=node)
            node.outputs.append(v)
        self.nodes.append(node)
        return node.outputs

    # -- queries ------------------------------------------------------------------------------
    def values(self) -> Iterator[Value]:
        seen: set[int] = set()
        for v in itertools.chain(
            self.inputs, (x for n in self.nodes for x in n.inputs + n.outputs), self.outputs
        ):
            if v.uid not in seen:
                seen.add(v.uid)
                yield v

    def consumers(self) -> dict[int, list[Node]]:
        out: dict[int, list[Node]] = {}
        for n in self.nodes:
            for v in n.inputs:
                out.setdefault(v.uid, []).append(n)
        return out

    def constants(self) -> list[Value]:
        return [v for v in self.values() if v.is_const]

    def replace_uses(self, old: Value, new: Value) -> None:
        for n in self.nodes:
            n.inputs = [new if v is old else v for v in n.inputs]
        self.outputs = [new if v is old else v for v in self.outputs]

    def verify(self) -> None:
        """Check the invariants every pass must keep; raises AssertionError naming the broken one."""
        defined = {v.uid for v in self.inputs}
        for n in self.nodes:
            for v in n.inputs:
                assert v.is_const or v.uid in defined, f"{n} reads {v} before it is defined"
            for v in n.outputs:
                assert v.uid not in defined, f"{v} defined twice"
                assert v.producer is n, f"{v} producer mismatch"
                defined.add(v.uid)
            outs = opdefs.infer(n.opdef, [v.shape for v in n.inputs], [v.dtype for v in n.inputs], n.attrs)
            for v, (shape, dt) in zip(n.outputs, outs):
                assert v.shape == shape and v.dtype == dt, f"{n}: output {v} but rule says {dt.short}{shape}"
        for v in self.outputs:
            assert v.is_const or v.uid in defined, f"output {v} is never computed"

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        return dict(sorted(counts.items()))

    def __repr__(self) -> str:
        lines = [f"graph({', '.join(map(repr, self.inputs))}):"]
        lines += [f"  {n!r}" for n in self.nodes]
        lines.append(f"  return {', '.join('%' + v.name for v in self.outputs)}")
        return "\n".join(lines)
