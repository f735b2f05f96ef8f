"""A hand-written RMS norm becomes one rms_norm node, and only when nothing else reads its parts."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import ember


class HandNorm(nn.Module):
    def __init__(self, dim: int, weight: bool = True, leak: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.rand(dim) + 0.5) if weight else None
        self.leak = leak
        self.fc = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        ms = x.pow(2).mean(-1, keepdim=True)
        y = x * torch.rsqrt(ms + 1e-5)
        if self.weight is not None:
            y = y * self.weight
        y = self.fc(y)
        return (y, ms) if self.leak else y


def _check(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    prog = ember.export(model, (x,))
    got = prog.load()(x.numpy())
    want = model(x)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        assert np.allclose(g, w.detach().numpy(), atol=2e-5, rtol=1e-5)
    return prog.graph.op_counts()


def test_hand_written_rms_norm_fuses() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 7, 48)
    for weight in (True, False):
        ops = _check(HandNorm(48, weight=weight).eval(), x)
        assert ops.get("rms_norm") == 1
        assert "reduce_mean" not in ops and "rsqrt" not in ops and "mul" not in ops


def test_norm_whose_parts_are_read_elsewhere_stays_unfused() -> None:
    torch.manual_seed(0)
    ops = _check(HandNorm(48, leak=True).eval(), torch.randn(2, 7, 48))
    assert "rms_norm" not in ops and ops.get("reduce_mean") == 1
