"""The .ember file: determinism, the independent Python reader, and bad input of every kind (each
must give ember.FormatError with a message, never a crash, over-read or hang)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import ember
from ember import FormatError
from ember.format import layout as L
from ember.format.reader import read
from ember.runtime import load_bytes
from tests.core.helpers import fix_crc, one_op_program, section


@pytest.fixture(scope="module")
def small() -> bytes:
    from ember.examples.models import mlp

    model, inputs = mlp(sizes=(8, 16, 4), batch=2)
    return ember.export(model, inputs).to_bytes()


def test_same_model_gives_identical_bytes() -> None:
    from ember.examples.models import bert_encoder

    a = ember.export(*bert_encoder(seq=8)).to_bytes()
    b = ember.export(*bert_encoder(seq=8)).to_bytes()
    assert a == b


def test_layout_promises(small: bytes) -> None:
    f = read(small)
    assert f.version == (L.VERSION_MAJOR, L.VERSION_MINOR)
    assert f.const_offset % 64 == 0 and f.file_size == len(small)
    assert all(t.offset % 64 == 0 for t in f.tensors)
    assert {"strings", "tensors", "nodes", "edges", "attrs", "graph", "metadata"} <= set(f.sections)
    assert f.metadata["producer"].startswith("ember ")
    assert f.op_counts() == {"linear_packed": 2}


def test_reader_round_trips_constants(small: bytes) -> None:
    from ember.examples.models import mlp

    model, _ = mlp(sizes=(8, 16, 4), batch=2)
    f = read(small)
    from ember.ir.ops import pack_panels

    w0 = pack_panels(model[0].weight.detach().numpy())  # linear weights are stored as GEMM panels
    consts = [f.constant(t) for t in f.tensors if t.is_const]
    assert any(c.shape == w0.shape and np.array_equal(c, w0) for c in consts)


def test_identical_constants_are_stored_once() -> None:
    w = np.ones((64, 64), np.float32)
    from ember.ir.dtypes import DType
    from ember.ir.graph import Graph
    from ember.passes.pipeline import compile_graph

    g = Graph()
    x = g.add_input("x", DType.F32, (1, 64))
    (y,) = g.add_node("linear", [x, g.const(w)])
    (z,) = g.add_node("linear", [y, g.const(w.copy())])
    g.outputs = [z]
    f = read(compile_graph(g).to_bytes())
    assert f.const_size == 64 * 64 * 4


# ---------------------------------------------------------------------------------- bad input
def _expect_format_error(data: bytes, match: str | None = None) -> None:
    with pytest.raises(FormatError, match=match):
        load_bytes(data)


def test_truncated_at_every_region(small: bytes) -> None:
    cuts = sorted({0, 1, 7, 8, 64, 127, 128, 200, len(small) // 2, len(small) - 64, len(small) - 1})
    for n in cuts:
        _expect_format_error(small[:n])


def test_trailing_garbage(small: bytes) -> None:
    _expect_format_error(small + b"\0" * 64, "truncated or has trailing data")


def test_wrong_magic(small: bytes) -> None:
    _expect_format_error(b"PK\x03\x04" + small[4:], "not an .ember file")


def test_newer_major_version_says_what_to_do(small: bytes) -> None:
    b = bytearray(small)
    b[8:12] = (L.VERSION_MAJOR + 1).to_bytes(4, "little")
    _expect_format_error(fix_crc(b), "re-export")


def test_bit_flips_are_caught_by_checksums(small: bytes) -> None:
    rng = np.random.default_rng(0)
    for pos in rng.integers(0, len(small), 200):
        b = bytearray(small)
        b[pos] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(FormatError):
            load_bytes(bytes(b))


def test_weight_corruption_needs_verify(small: bytes) -> None:
    b = bytearray(small)
    b[-5] ^= 0xFF
    with pytest.raises(FormatError, match="weights checksum"):
        load_bytes(bytes(b), verify=True)
    load_bytes(bytes(b), verify=False)  # structure intact; only numbers differ: loads without the check


def _patch_tensor(data: bytes, index: int, **fields: int) -> bytes:
    off, _ = section(data, L.SECTION_TENSORS)
    at = off + index * L.TENSOR.size
    rec = list(L.TENSOR.unpack_from(data, at))
    names = (
        ["name", "dtype", "rank", "storage", "reserved"]
        + [f"d{i}" for i in range(8)]
        + ["offset", "nbytes", "reserved2"]
    )
    for k, v in fields.items():
        rec[names.index(k)] = v
    b = bytearray(data)
    L.TENSOR.pack_into(b, at, *rec)
    return fix_crc(b)


def test_structural_corruptions_are_named(small: bytes) -> None:
    f = read(small)
    const_i = next(i for i, t in enumerate(f.tensors) if t.is_const)
    arena_i = f.inputs[0]
    cases = {
        "absurd size": _patch_tensor(small, const_i, d0=1 << 50),
        "unknown dtype": _patch_tensor(small, const_i, dtype=99),
        "rank": _patch_tensor(small, const_i, rank=9),
        "constant segment": _patch_tensor(small, const_i, offset=1 << 40),
        "planned arena": _patch_tensor(small, arena_i, offset=1 << 30),
        "byte size": _patch_tensor(small, const_i, nbytes=4),
        "name offset": _patch_tensor(small, const_i, name=1 << 30),
    }
    for what, data in cases.items():
        with pytest.raises(FormatError, match=what):
            load_bytes(data)


def _patch_node(data: bytes, index: int, **fields: int) -> bytes:
    off, _ = section(data, L.SECTION_NODES)
    at = off + index * L.NODE.size
    rec = list(L.NODE.unpack_from(data, at))
    names = ["op", "flags", "in0", "nin", "out0", "nout", "a0", "na", "name", "reserved"]
    for k, v in fields.items():
        rec[names.index(k)] = v
    b = bytearray(data)
    L.NODE.pack_into(b, at, *rec)
    return fix_crc(b)


def test_node_corruptions(small: bytes) -> None:
    with pytest.raises(ember.UnsupportedOpError):
        load_bytes(_patch_node(small, 0, op=999))
    for fields, match in [
        ({"nin": 1 << 31}, "out of bounds"),
        ({"na": 1}, "attribute slots"),
        ({"flags": 8}, "unknown flags"),
        ({"in0": 1 << 31}, "out of bounds"),
    ]:
        with pytest.raises(FormatError, match=match):
            load_bytes(_patch_node(small, 0, **fields))


def test_dangling_and_cyclic_references(small: bytes) -> None:
    # node 0 reading node 1's output = a reference to a value not yet computed (a cycle or dangling edge)
    f = read(small)
    off, _ = section(small, L.SECTION_EDGES)
    n1_out = f.nodes[1].outputs[0]
    in_edge_pos = f.nodes[0].inputs and 0
    b = bytearray(small)
    struct.pack_into("<I", b, off + 4 * in_edge_pos, n1_out)
    with pytest.raises(FormatError, match="before any node writes it"):
        load_bytes(fix_crc(b))
    b = bytearray(small)
    struct.pack_into("<I", b, off, 1 << 30)
    with pytest.raises(FormatError, match="refers to tensor"):
        load_bytes(fix_crc(b))


def test_shape_rule_is_checked_on_load(small: bytes) -> None:
    f = read(small)
    out_t = f.nodes[0].outputs[0]
    t = f.tensors[out_t]
    # a lying output shape would let a kernel write past its buffer: the runtime re-checks the rule
    data = _patch_tensor(small, out_t, d1=t.shape[1] + 1, nbytes=t.nbytes + 4 * t.shape[0])
    with pytest.raises(FormatError):
        load_bytes(data)


def test_missing_file_and_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ember.EmberError, match="no such model file"):
        ember.load(tmp_path / "nope.ember")
    with pytest.raises(ember.EmberError):
        ember.load(tmp_path)


def test_save_is_atomic_and_reports_disk_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    prog = one_op_program("relu", [np.zeros((2, 2), np.float32)])
    p = prog.save(tmp_path / "m.ember")
    assert p.read_bytes() == prog.to_bytes()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ember.EmberError, match="could not write"):
        prog.save(blocker / "sub" / "m.ember")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["file", "m.ember"]  # no temp files left


def test_random_garbage_never_crashes() -> None:
    rng = np.random.default_rng(7)
    for n in (0, 10, 128, 1000, 5000):
        with pytest.raises(FormatError):
            load_bytes(L.MAGIC + rng.integers(0, 256, n, dtype=np.uint8).tobytes())


def test_full_disk_keeps_the_old_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A write that hits the file-size limit (as a full disk would) fails clearly; the old model stays."""
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "model.ember"
    target.write_bytes(b"old model")
    code = textwrap.dedent(f"""
        import resource, signal, numpy as np, ember
        from tests.core.helpers import one_op_program
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        prog = one_op_program("linear", [np.zeros((1, 64), np.float32), np.ones((64, 64), np.float32)],
                              const_inputs=(1,))
        assert len(prog.to_bytes()) > 4096
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
        try:
            prog.save({str(target)!r})
        except ember.EmberError as e:
            print("ERR", e)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(__import__("pathlib").Path(__file__).parents[2]),
    )
    assert "ERR could not write" in out.stdout, out.stderr
    assert target.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.ember"]
