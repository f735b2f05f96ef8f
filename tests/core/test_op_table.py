"""The one op table: unique ids, the generated C header is current, the runtime covers the table,
and the committed C test data is exactly what the exporter writes today (deterministic files)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ember.ir import gen_c_header
from ember.ir.ops import OPS, OPS_BY_ID
from ember.runtime import kernels

ROOT = Path(__file__).resolve().parents[2]


def test_ids_unique_and_stable() -> None:
    assert len(OPS) == len(OPS_BY_ID)
    assert OPS["conv2d"].id == 1 and OPS["sdpa"].id == 81  # ids are part of the file format: never renumber


def test_generated_header_is_current() -> None:
    assert gen_c_header.main(["--check"]) == 0


def test_runtime_has_a_kernel_for_every_op() -> None:
    have = {op for op, _dt in kernels()}
    assert set(OPS) - have == set()


def test_committed_runtime_test_data_is_reproducible(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_runtime_test_data.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for f in gen.write(tmp_path):
        committed = ROOT / "runtime" / "tests" / "data" / f.name
        hint = f"{f.name} changed: rerun scripts/gen_runtime_test_data.py"
        assert f.read_bytes() == committed.read_bytes(), hint


def test_ops_doc_is_current() -> None:
    from ember.ir import gen_ops_doc

    assert gen_ops_doc.main(["--check"]) == 0
