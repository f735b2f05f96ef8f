"""A second, independent reader of .ember files (pure Python), for `ember inspect` and debugging.
It follows docs/format.md; the C loader is the one that guards the device."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ember.errors import FormatError
from ember.format import layout as L
from ember.ir import ops as opdefs
from ember.ir.dtypes import DType


@dataclass
class TensorRecord:
    name: str
    dtype: DType
    shape: tuple[int, ...]
    storage: int
    offset: int
    nbytes: int

    @property
    def is_const(self) -> bool:
        return self.storage == L.STORAGE_CONST


@dataclass
class NodeRecord:
    name: str
    op: str
    flags: int
    inputs: list[int]
    outputs: list[int]
    attrs: dict[str, Any]


@dataclass
class EmberFile:
    version: tuple[int, int]
    file_size: int
    const_offset: int
    const_size: int
    sections: dict[str, tuple[int, int]]
    tensors: list[TensorRecord]
    nodes: list[NodeRecord]
    inputs: list[int]
    outputs: list[int]
    arena_bytes: int
    lower_bound: int
    metadata: dict[str, Any]
    raw: bytes = field(repr=False, default=b"")

    def constant(self, t: TensorRecord) -> np.ndarray:
        start = self.const_offset + t.offset
        return np.frombuffer(
            self.raw, dtype=t.dtype.to_numpy(), count=t.nbytes // t.dtype.itemsize, offset=start
        ).reshape(t.shape)

    @property
    def param_count(self) -> int:
        seen: set[int] = set()
        n = 0
        for t in self.tensors:
            if t.is_const and t.offset not in seen:
                seen.add(t.offset)
                n += t.nbytes // t.dtype.itemsize
        return n

    def op_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for nd in self.nodes:
            out[nd.op] = out.get(nd.op, 0) + 1
        return dict(sorted(out.items()))


def read(data: bytes, verify_weights: bool = True) -> EmberFile:
    if len(data) < L.HEADER_SIZE or data[:8] != L.MAGIC:
        raise FormatError("not an .ember file (bad magic or shorter than the header)")
    (
        _,
        major,
        minor,
        file_size,
        header_size,
        n_sec,
        table,
        const_off,
        const_size,
        meta_crc,
        const_crc,
        _flags,
    ) = L.HEADER.unpack_from(data, 0)
    if major != L.VERSION_MAJOR:
        raise FormatError(f"format version {major}.{minor}; this reader reads {L.VERSION_MAJOR}.x")
    if file_size != len(data) or const_off + const_size != len(data) or const_off > len(data):
        raise FormatError(
            f"file is {len(data)} bytes but the header describes {file_size}: truncated or padded"
        )
    region = bytearray(data[:const_off])
    region[L.META_CRC_AT : L.META_CRC_AT + 8] = b"\0" * 8
    if zlib.crc32(bytes(region)) != meta_crc:
        raise FormatError("metadata checksum mismatch: the file is corrupt")
    if verify_weights and zlib.crc32(data[const_off:]) != const_crc:
        raise FormatError("weights checksum mismatch: the file is corrupt")
    sections: dict[int, tuple[int, int]] = {}
    for i in range(n_sec):
        kind, _sflags, off, size = L.SECTION.unpack_from(data, table + i * L.SECTION.size)
        sections[kind] = (off, size)

    def sec(kind: int) -> bytes:
        off, size = sections[kind]
        return data[off : off + size]

    strings = sec(L.SECTION_STRINGS)

    def string(off: int) -> str:
        return strings[off : strings.index(b"\0", off)].decode("utf-8")

    tensors = []
    raw_t = sec(L.SECTION_TENSORS)
    for i in range(len(raw_t) // L.TENSOR.size):
        rec = L.TENSOR.unpack_from(raw_t, i * L.TENSOR.size)
        name, dtype, rank, storage = rec[0], rec[1], rec[2], rec[3]
        dims = rec[5:13]
        tensors.append(
            TensorRecord(string(name), DType(dtype), tuple(dims[:rank]), storage, rec[13], rec[14])
        )
    edges = np.frombuffer(sec(L.SECTION_EDGES), dtype="<u4")
    attrs = np.frombuffer(sec(L.SECTION_ATTRS), dtype="<i8")
    nodes = []
    raw_n = sec(L.SECTION_NODES)
    for i in range(len(raw_n) // L.NODE.size):
        op_id, flags, in0, nin, out0, nout, a0, na, name, _ = L.NODE.unpack_from(raw_n, i * L.NODE.size)
        opdef = opdefs.OPS_BY_ID.get(op_id)
        op = opdef.name if opdef else f"op#{op_id}"
        dec = opdefs.decode_attrs(opdef, attrs[a0 : a0 + na].tolist()) if opdef else {}
        nodes.append(
            NodeRecord(
                string(name),
                op,
                flags,
                edges[in0 : in0 + nin].tolist(),
                edges[out0 : out0 + nout].tolist(),
                dec,
            )
        )
    g = sec(L.SECTION_GRAPH)
    arena, lower, nin_g, nout_g = L.GRAPH_HEAD.unpack_from(g, 0)
    io = np.frombuffer(g[L.GRAPH_HEAD.size :], dtype="<u4").tolist()
    meta = json.loads(sec(L.SECTION_METADATA).decode("utf-8") or "{}")
    names = {v: k for k, v in L.SECTION_NAMES.items()}
    return EmberFile(
        (major, minor),
        file_size,
        const_off,
        const_size,
        {n: sections[k] for n, k in names.items() if k in sections},
        tensors,
        nodes,
        io[:nin_g],
        io[nin_g : nin_g + nout_g],
        arena,
        lower,
        meta,
        raw=data,
    )


def read_file(path: str, verify_weights: bool = True) -> EmberFile:
    with open(path, "rb") as f:
        return read(f.read(), verify_weights)
