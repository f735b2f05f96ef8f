"""Helpers for the core tests: one-node graphs, file surgery that keeps checksums valid."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ember.format import layout as L
from ember.ir.dtypes import DType
from ember.ir.graph import Graph
from ember.passes.pipeline import compile_graph
from ember.program import Program


def one_op_program(
    op: str,
    inputs: list[np.ndarray],
    attrs: dict[str, Any] | None = None,
    const_inputs: tuple[int, ...] = (),
    optimize: bool = False,
) -> Program:
    g = Graph()
    vals = []
    for i, x in enumerate(inputs):
        if i in const_inputs:
            vals.append(g.const(x, f"c{i}"))
        else:
            vals.append(g.add_input(f"x{i}", DType.from_numpy(x.dtype), x.shape))
    g.outputs = g.add_node(op, vals, attrs or {})
    return compile_graph(g, optimize=optimize)


def run_one_op(
    op: str, inputs: list[np.ndarray], attrs: dict[str, Any] | None = None, const_inputs: tuple[int, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """(C runtime result, numpy reference result) of a one-node graph."""
    prog = one_op_program(op, inputs, attrs, const_inputs)
    runtime_inputs = [x for i, x in enumerate(inputs) if i not in const_inputs]
    (got,) = prog.load()(*runtime_inputs)
    (want,) = prog.reference(*runtime_inputs)
    return got, want


def fix_crc(data: bytes | bytearray) -> bytes:
    """Recompute both checksums, so a deliberate corruption reaches the structural validators."""
    b = bytearray(data)
    const_off = int.from_bytes(b[40:48], "little")
    b[L.META_CRC_AT : L.META_CRC_AT + 8] = b"\0" * 8
    meta = zlib.crc32(bytes(b[:const_off])) if const_off <= len(b) else 0
    const = zlib.crc32(bytes(b[const_off:])) if const_off <= len(b) else 0
    b[L.META_CRC_AT : L.META_CRC_AT + 4] = meta.to_bytes(4, "little")
    b[L.CONST_CRC_AT : L.CONST_CRC_AT + 4] = const.to_bytes(4, "little")
    return bytes(b)


def section(data: bytes, kind: int) -> tuple[int, int]:
    n = int.from_bytes(data[28:32], "little")
    table = int.from_bytes(data[32:40], "little")
    for i in range(n):
        k, _f, off, size = L.SECTION.unpack_from(data, table + i * L.SECTION.size)
        if k == kind:
            return off, size
    raise KeyError(kind)
