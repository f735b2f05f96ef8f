"""The Python face of the runtime: errors a person can act on, threads, profiles, memory, no torch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import ember
from ember import ShapeError, UnsupportedOpError
from ember.examples import models

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bert_file(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    model, inputs = models.bert_encoder(seq=16)
    return ember.export(model, inputs).save(tmp_path_factory.mktemp("m") / "bert.ember")


def test_wrong_input_count_shape_dtype(bert_file: Path) -> None:
    m = ember.load(bert_file)
    ids = np.zeros((2, 16), np.int64)
    with pytest.raises(ShapeError, match="takes 2 input"):
        m(ids)
    with pytest.raises(ShapeError, match=r"must have shape \[2, 16\], got \[2, 17\]"):
        m(np.zeros((2, 17), np.int64), ids)
    with pytest.raises(ShapeError, match="must be int64"):
        m(np.zeros((2, 16), np.float32), ids)


def test_io_description_and_memory(bert_file: Path) -> None:
    m = ember.load(bert_file)
    assert m.input_names == ["ids", "attention_mask"]
    assert m.inputs[0].shape == (2, 16) and m.inputs[0].dtype == np.int64
    assert m.outputs[0].shape == (2, 16, 128)
    mem = m.memory
    assert mem["arena_bytes"] >= mem["arena_lower_bound_bytes"] > 0 and mem["weight_bytes"] > 500_000
    assert m.metadata["producer"].startswith("ember")


def test_profile_lists_every_node(bert_file: Path) -> None:
    m = ember.load(bert_file)
    ids = np.ones((2, 16), np.int64)
    rows = m.profile(ids, ids, runs=3)
    assert len(rows) == m.metadata["nodes"]
    assert {r["op"] for r in rows} >= {"linear_packed", "sdpa", "layer_norm"}
    assert {r["kernel"] for r in rows} >= {"f32_linear_gemm_inplace", "reference"}
    assert all(r["ms"] >= 0 for r in rows)


def test_one_session_per_thread_gives_same_results(bert_file: Path) -> None:
    m = ember.load(bert_file, threads=1)
    rng = np.random.default_rng(0)
    inputs = [(rng.integers(0, 1000, (2, 16)), np.ones((2, 16), np.int64)) for _ in range(4)]
    want = [m(*x)[0] for x in inputs]
    got: dict[int, list[np.ndarray]] = {}

    def work(k: int) -> None:
        got[k] = [m(*inputs[(k + j) % 4])[0] for j in range(8)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        for j in range(8):
            np.testing.assert_array_equal(got[k][j], want[(k + j) % 4])


def test_unsupported_op_fails_at_export_naming_op_and_line() -> None:
    class M(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cumsum(x, dim=1)  # no cumsum kernel

    with pytest.raises(UnsupportedOpError) as e:
        ember.export(M(), (torch.randn(2, 3),))
    msg = str(e.value)
    assert "aten.cumsum" in msg and "test_runtime.py" in msg and "torch.cumsum(x, dim=1)" in msg
    assert "Supported aten ops:" in msg and "convolution" in msg


def test_dtype_without_kernel_fails_at_export() -> None:
    class M(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(x, -1)

    with pytest.raises(UnsupportedOpError, match="float16"):
        ember.export(M(), (torch.randn(2, 3, dtype=torch.float16),))


def test_dynamic_shapes_say_they_come_later() -> None:
    model, (x,) = models.mlp(sizes=(4, 4))
    batch = torch.export.Dim("batch", min=2, max=64)
    ep = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    with pytest.raises(ShapeError, match="dynamic shapes come later"):
        ember.export(ep, (x,))


def test_load_without_torch(tmp_path: Path) -> None:
    """`import ember; ember.load(...)` works where torch cannot be imported."""
    model, inputs = models.mlp(sizes=(8, 8, 2))
    path = ember.export(model, inputs).save(tmp_path / "m.ember")
    with torch.no_grad():
        want = model(*inputs).numpy()
    np.save(tmp_path / "x.npy", inputs[0].numpy())
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('torch is not installed here')\n")
    code = textwrap.dedent(f"""
        import sys, numpy as np
        import ember
        assert "torch" not in sys.modules
        m = ember.load({str(path)!r})
        (y,) = m(np.load({str(tmp_path / "x.npy")!r}))
        np.save({str(tmp_path / "y.npy")!r}, y)
        assert "torch" not in sys.modules
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want, atol=1e-5)


def test_200mb_model_is_mapped_not_copied(tmp_path: Path) -> None:
    """Loading maps the weights: anonymous (private, copied) memory does not grow by the weights' size."""
    from ember.ir.dtypes import DType
    from ember.ir.graph import Graph
    from ember.passes.pipeline import compile_graph

    g = Graph()
    x = g.add_input("x", DType.F32, (1, 4096))
    y = x
    for i in range(4):  # 4 x 4096 x 3200 x 4 B = 210 MB of weights
        w = np.full((3200 if i % 2 == 0 else 4096, 4096 if i % 2 == 0 else 3200), 1e-4 * (i + 1), np.float32)
        (y,) = g.add_node("linear", [y, g.const(w, f"w{i}")])
    g.outputs = [y]
    path = compile_graph(g).save(tmp_path / "big.ember")
    assert path.stat().st_size > 200e6
    code = textwrap.dedent(f"""
        import numpy as np, ember
        def anon():
            for line in open("/proc/self/status"):
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        before = anon()
        m = ember.load({str(path)!r}, verify=True)    # CRC reads every weight page through the mapping
        (y,) = m(np.ones((1, 4096), np.float32))
        print(anon() - before, float(y[0, 0]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    grown, y0 = out.stdout.split()
    assert int(grown) < 30e6, f"anonymous memory grew by {int(grown) / 1e6:.1f} MB: weights were copied"
    assert abs(float(y0) - 4096 * 1e-4 * 3200 * 2e-4 * 4096 * 3e-4 * 3200 * 4e-4) < 1e-2


def test_feature_spec_travels_inside_the_file(tmp_path: Path) -> None:
    from ember.features import Feature, FeatureSpec

    spec = FeatureSpec("ranker-v3", [Feature("clicks_7d", event="click", agg="count", window="7d")])
    model, inputs = models.mlp(sizes=(4, 4))
    path = ember.export(model, inputs, features=spec).save(tmp_path / "m.ember")
    got = ember.load(path).feature_spec()
    assert got is not None and got.to_json() == spec.to_json()
    assert ember.load(ember.export(model, inputs).save(tmp_path / "n.ember")).feature_spec() is None


def test_aligned_inputs_are_read_in_place_and_never_written() -> None:
    """Module.run binds 64-byte aligned inputs (no copy) and copies the others; same results, and the
    caller's array is untouched (in-place reuse never picks a graph input's buffer)."""
    m, inputs = models.mlp(batch=8)[:2]
    prog = ember.export(m, inputs)
    mod = prog.load()
    x = inputs[0].numpy()
    aligned = np.empty(x.size + 16, np.float32)
    off = (-aligned.ctypes.data % 64) // 4
    a = aligned[off : off + x.size].reshape(x.shape)
    a[...] = x
    b = np.empty(x.size + 1, np.float32)[1:].reshape(x.shape)  # 4-byte misaligned: the copy path
    b[...] = x
    assert a.ctypes.data % 64 == 0 and b.ctypes.data % 64 != 0
    (ya,) = mod(a)
    (yb,) = mod(b)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(a, x)
    with torch.no_grad():
        np.testing.assert_allclose(ya, m(inputs[0]).numpy(), rtol=1e-4, atol=1e-4)


class _Outputs(torch.nn.Module):
    """A computed output, a view of an intermediate, the input passed through, one tensor listed twice
    (the exporter's legalize_outputs gives each its own tensor, so all are written in place)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 6)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = torch.relu(self.fc(x))
        return h, (h * 2).reshape(2, 3, 2), x, h


@pytest.fixture(scope="module")
def outs_case(tmp_path_factory) -> tuple[Any, torch.Tensor, list[np.ndarray]]:  # type: ignore[no-untyped-def]
    """(loaded module, its input, PyTorch's outputs) for _Outputs"""
    torch.manual_seed(0)
    model = _Outputs().eval()
    x = torch.randn(2, 8)
    m = ember.load(ember.export(model, (x,)).save(tmp_path_factory.mktemp("o") / "outs.ember"))
    return m, x, [t.detach().numpy() for t in model(x)]


def test_outputs_are_written_in_place_into_fresh_aligned_arrays(outs_case) -> None:  # type: ignore[no-untyped-def]
    m, x, want = outs_case
    first = m(x.numpy())
    second = m(x.numpy())
    for got in (first, second):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and np.allclose(g, w, atol=1e-5)
    # every call hands out new arrays: the second run did not overwrite the first's results
    for a, b in zip(first, second):
        assert not np.shares_memory(a, b)
    assert first[0].ctypes.data % 64 == 0
    a = ember.aligned_empty((3, 5), np.float32)
    assert a.ctypes.data % 64 == 0 and a.shape == (3, 5) and a.flags.c_contiguous


def test_run_into_caller_arrays(outs_case) -> None:  # type: ignore[no-untyped-def]
    m, x, want = outs_case
    aligned = [ember.aligned_empty(w.shape, w.dtype) for w in want]
    unaligned = [np.empty(w.size + 1, w.dtype)[1:].reshape(w.shape) for w in want]  # read back, copied
    for out in (aligned, unaligned):
        got = m.run(x.numpy(), out=out)
        assert all(g is o for g, o in zip(got, out))
        for g, w in zip(got, want):
            assert np.allclose(g, w, atol=1e-5)
    with pytest.raises(ShapeError, match="needs 4 array"):
        m.run(x.numpy(), out=aligned[:2])
    with pytest.raises(ShapeError, match=r"must be a float32\[2, 6\] array"):
        m.run(x.numpy(), out=[np.empty((3, 6), np.float32), *aligned[1:]])
