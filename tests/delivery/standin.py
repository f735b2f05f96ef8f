"""A stand-in model format for delivery tests (until .ember files can be made here).

A "model" is an .npz holding `w` (k x n) and `b` (n); running it computes tanh(x @ w + b) in float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class NpzModule:
    def __init__(self, path: Path):
        with np.load(path, allow_pickle=False) as z:
            if "w" not in z.files or "b" not in z.files:
                raise ValueError(f"{path} is not a stand-in model (needs arrays w and b)")
            self.w = z["w"].astype(np.float32)
            self.b = z["b"].astype(np.float32)

    def __call__(self, x):
        # a broadcast multiply-sum, not `@`: no BLAS call. The fleet test runs 8 devices at once, and
        # the one unexplained smoke-test failure seen in CI (1 device of 1,000, once in 8 runs) points at
        # something shared between threads; concurrent calls into the BLAS are the prime suspect.
        x = np.asarray(x, np.float32)
        return (np.tanh((x[:, :, None] * self.w[None, :, :]).sum(axis=1) + self.b),)


def load_npz_model(path: Path) -> NpzModule:
    return NpzModule(path)


def make_model(directory: Path, name: str, seed: int, k: int = 8, n: int = 4, pad: int = 0):
    """Write a stand-in model and its smoke file; returns (model_path, smoke_path). `pad` adds an extra
    array to make the file bigger (download tests)."""
    from ember.delivery.registry import make_smoke_file

    rng = np.random.default_rng(seed)
    w = rng.standard_normal((k, n)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    model = Path(directory) / f"{name}.npz"
    extra = {"pad": rng.integers(0, 255, pad, dtype=np.uint8)} if pad else {}
    with open(model, "wb") as f:
        np.savez(f, w=w, b=b, **extra)
    x = rng.standard_normal((2, k)).astype(np.float32)
    smoke = make_smoke_file(Path(directory) / f"{name}.smoke.npz", [x], list(NpzModule(model)(x)))
    return model, smoke
