"""Serialize a planned Graph to .ember bytes. Deterministic: same graph and options, same bytes."""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

import numpy as np

from ember.format import layout as L
from ember.ir import ops as opdefs
from ember.ir.graph import Graph, Value
from ember.passes.memory_plan import MemoryPlan


class _Strings:
    def __init__(self) -> None:
        self.buf = bytearray(b"\0")  # offset 0 is the empty string
        self.index: dict[str, int] = {"": 0}

    def add(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.buf)
            self.buf += s.encode("utf-8") + b"\0"
        return self.index[s]


def serialize(graph: Graph, plan: MemoryPlan, metadata: dict[str, Any] | None = None) -> bytes:
    strings = _Strings()
    tensor_ids: dict[int, int] = {}
    tensor_recs: list[bytes] = []
    const_chunks: list[bytes] = []
    const_size = 0
    const_by_digest: dict[bytes, int] = {}  # identical weights are stored once

    def tensor_id(v: Value) -> int:
        nonlocal const_size
        if v.uid in tensor_ids:
            return tensor_ids[v.uid]
        dims = list(v.shape) + [0] * (8 - len(v.shape))
        if v.is_const:
            assert v.data is not None
            raw = np.ascontiguousarray(v.data, dtype=v.dtype.to_numpy()).tobytes()
            digest = hashlib.sha256(raw).digest()
            if digest not in const_by_digest:
                const_by_digest[digest] = const_size
                pad = L.align(len(raw)) - len(raw)
                const_chunks.append(raw + b"\0" * pad)
                const_size += len(raw) + pad
            offset, storage = const_by_digest[digest], L.STORAGE_CONST
        else:
            offset, storage = plan.offsets[v.uid], L.STORAGE_ARENA
        rec = L.TENSOR.pack(
            strings.add(v.name), int(v.dtype), len(v.shape), storage, 0, *dims, offset, v.nbytes, 0
        )
        tensor_ids[v.uid] = len(tensor_recs)
        tensor_recs.append(rec)
        return tensor_ids[v.uid]

    for v in graph.inputs:
        tensor_id(v)
    edges: list[int] = []
    attrs: list[int] = []
    node_recs: list[bytes] = []
    for n in graph.nodes:
        opdef = n.opdef
        in0 = len(edges)
        edges += [tensor_id(v) for v in n.inputs]
        out0 = len(edges)
        edges += [tensor_id(v) for v in n.outputs]
        a0 = len(attrs)
        attrs += opdefs.encode_attrs(opdef, n.attrs)
        node_recs.append(
            L.NODE.pack(
                opdef.id,
                n.flags,
                in0,
                len(n.inputs),
                out0,
                len(n.outputs),
                a0,
                opdef.n_slots,
                strings.add(n.name),
                0,
            )
        )
    out_ids = [tensor_id(v) for v in graph.outputs]
    in_ids = [tensor_ids[v.uid] for v in graph.inputs]

    meta = dict(metadata or {})
    meta_bytes = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode("utf-8")
    sections: list[tuple[int, bytes]] = [
        (L.SECTION_STRINGS, bytes(strings.buf)),
        (L.SECTION_TENSORS, b"".join(tensor_recs)),
        (L.SECTION_NODES, b"".join(node_recs)),
        (L.SECTION_EDGES, np.asarray(edges, dtype="<u4").tobytes()),
        (L.SECTION_ATTRS, np.asarray(attrs, dtype="<i8").tobytes()),
        (
            L.SECTION_GRAPH,
            L.GRAPH_HEAD.pack(plan.arena_bytes, plan.lower_bound, len(in_ids), len(out_ids))
            + np.asarray(in_ids + out_ids, dtype="<u4").tobytes(),
        ),
        (L.SECTION_METADATA, meta_bytes),
    ]
    table_off = L.HEADER_SIZE
    pos = L.align(table_off + L.SECTION.size * len(sections), 8)
    table = bytearray()
    body = bytearray()
    for kind, data in sections:
        table += L.SECTION.pack(kind, 0, pos + len(body), len(data))
        body += data + b"\0" * (L.align(len(data), 8) - len(data))
    meta_end = pos + len(body)
    const_off = L.align(meta_end)
    constants = b"".join(const_chunks)
    file_size = const_off + len(constants)
    fields = (
        L.MAGIC,
        L.VERSION_MAJOR,
        L.VERSION_MINOR,
        file_size,
        L.HEADER_SIZE,
        len(sections),
        table_off,
        const_off,
        len(constants),
    )
    meta_region = bytearray(L.HEADER_SIZE) + table + b"\0" * (pos - table_off - len(table)) + body
    meta_region += b"\0" * (const_off - len(meta_region))
    L.HEADER.pack_into(meta_region, 0, *fields, 0, 0, 0)  # checksums are computed with both fields zero
    meta_crc, const_crc = zlib.crc32(bytes(meta_region)), zlib.crc32(constants)
    L.HEADER.pack_into(meta_region, 0, *fields, meta_crc, const_crc, 0)
    return bytes(meta_region) + constants
