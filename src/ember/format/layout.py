"""Constants of the .ember layout, shared by the writer and the Python reader (docs/format.md)."""

from __future__ import annotations

import struct

MAGIC = b"\x89EMB\r\n\x1a\n"
VERSION_MAJOR = 1
VERSION_MINOR = 0
HEADER_SIZE = 128
ALIGN = 64

# header: magic, major, minor, file_size, header_size, n_sections, section_table, const_off, const_size,
#         meta_crc, const_crc, flags; then zero padding to HEADER_SIZE
HEADER = struct.Struct("<8sIIQIIQQQIII")
SECTION = struct.Struct("<IIQQ")  # kind, flags, offset, size
TENSOR = struct.Struct(
    "<IBBBB8qQQQ"
)  # name, dtype, rank, storage, reserved, dims[8], offset, nbytes, reserved
NODE = struct.Struct("<IIIIIIIIII")  # op, flags, in0, nin, out0, nout, attr0, nattr, name, reserved
GRAPH_HEAD = struct.Struct("<QQII")  # arena_size, lower_bound, n_inputs, n_outputs

SECTION_STRINGS = 1
SECTION_TENSORS = 2
SECTION_NODES = 3
SECTION_EDGES = 4
SECTION_ATTRS = 5
SECTION_GRAPH = 6
SECTION_METADATA = 7
SECTION_NAMES = {1: "strings", 2: "tensors", 3: "nodes", 4: "edges", 5: "attrs", 6: "graph", 7: "metadata"}

STORAGE_ARENA = 0
STORAGE_CONST = 1

# byte offsets of the two checksum fields inside the header
META_CRC_AT = 56
CONST_CRC_AT = 60

assert HEADER.size == 68 and TENSOR.size == 96 and NODE.size == 40 and SECTION.size == 24


def align(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a
