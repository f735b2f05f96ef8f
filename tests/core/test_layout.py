"""The NHWC layout pass: which ops change layout, where transposes go (as few as possible), and that
every rewritten graph still computes what PyTorch computes (the oracle), through the C runtime."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import ember
from ember.ir.dtypes import DType
from ember.ir.graph import Graph
from ember.passes.layout import to_channels_last
from ember.passes.pipeline import compile_graph

torch.manual_seed(0)


def _run(
    model: nn.Module, *inputs: torch.Tensor, reference: bool = False
) -> tuple[ember.Program, list[np.ndarray]]:
    model = model.eval()
    prog = ember.export(model, inputs)
    outs = prog.load(reference=reference)(*[t.numpy() for t in inputs])
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    with torch.no_grad():
        want = model(*inputs)
    want = list(want) if isinstance(want, (list, tuple)) else [want]
    for got, exp in zip(outs, want):
        assert got.shape == tuple(exp.shape)
        # float32 sums in another order than PyTorch: 1e-4 on unit-scale outputs (tests/core/test_models.py)
        np.testing.assert_allclose(got, exp.numpy(), rtol=1e-4, atol=1e-4)
    return prog, outs


class Chain(nn.Module):
    """conv -> relu6 -> depthwise -> 1x1 -> residual add -> 1x1 expand -> global pool -> flatten -> fc"""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 1)
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
        self.pw = nn.Conv2d(16, 16, 1)
        self.expand = nn.Conv2d(16, 40, 1)
        self.fc = nn.Linear(40, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.stem(x))
        x = x + self.pw(F.relu6(self.dw(x)))
        x = self.expand(x).mean((2, 3), keepdim=True)
        return self.fc(torch.flatten(x, 1))


@pytest.mark.parametrize("reference", [False, True])
def test_conv_chain_runs_nhwc_with_one_transpose(reference: bool) -> None:
    prog, _ = _run(Chain(), torch.randn(2, 3, 17, 15), reference=reference)
    ops = prog.graph.op_counts()
    assert "conv2d" not in ops
    assert ops["conv2d_nhwc"] == 1 and ops["dwconv2d_nhwc"] == 1
    assert ops["linear_packed"] == 3  # two 1x1 convs became GEMMs over pixels, plus the fc
    assert "add" not in ops  # the skip rides in the projecting GEMM's epilogue
    assert [len(n.inputs) for n in prog.graph.nodes if n.op == "linear_packed"].count(4) == 1
    assert ops["permute"] == 1  # the input only: the flatten of a 1x1 map needs no transpose back


class Branches(nn.Module):
    """concat of two conv branches, a per-channel constant, max pool, a non-1x1 flatten at the end"""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 6, 3, 1, 1)
        self.b = nn.Conv2d(4, 5, 1, stride=2)
        self.up = nn.Conv2d(4, 5, 3, 2, 1)
        self.scale = nn.Parameter(torch.randn(1, 11, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.max_pool2d(self.a(x), 2)
        z = torch.cat([y, self.b(x) + self.up(x)], dim=1) * self.scale
        return torch.flatten(torch.relu(z), 1)  # 4x4 spatial: the flatten must see NCHW order


def test_concat_constants_pool_and_flatten_keep_pytorch_order() -> None:
    prog, _ = _run(Branches(), torch.randn(1, 4, 8, 8))
    ops = prog.graph.op_counts()
    assert ops.get("conv2d", 0) == 0 and ops["max_pool2d_nhwc"] == 1
    assert ops["permute"] == 2  # in, and back to NCHW before the flatten


class Mixed(nn.Module):
    """a grouped (not depthwise) conv stays NCHW; avg_pool2d needs NCHW; the conv output is returned"""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(4, 8, 3, 1, 1)
        self.g = nn.Conv2d(8, 8, 3, 1, 1, groups=2)
        self.c2 = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.c1(x)
        b = self.c2(F.avg_pool2d(self.g(a), 2))
        return a, b


def test_layout_boundaries_insert_transposes_where_needed() -> None:
    prog, _ = _run(Mixed(), torch.randn(1, 4, 9, 9))
    ops = prog.graph.op_counts()
    assert ops["conv2d"] == 1  # the grouped conv
    assert ops["conv2d_nhwc"] == 1 and ops["linear_packed"] == 1
    # x -> NHWC; a -> NCHW (output and grouped conv share it); avg_pool output -> NHWC; b -> NCHW
    assert ops["permute"] == 4


def test_graph_without_convolutions_is_unchanged() -> None:
    g = Graph()
    x = g.add_input("x", DType.F32, (1, 3, 4, 4))
    (y,) = g.add_node("relu", [x])
    g.outputs = g.add_node("max_pool2d", [y], {"kernel_h": 2, "kernel_w": 2, "stride_h": 2, "stride_w": 2})
    before = repr(g)
    assert repr(to_channels_last(g)) == before


def test_unoptimized_export_keeps_nchw() -> None:
    x = torch.randn(1, 3, 8, 8)
    prog = ember.export(nn.Conv2d(3, 4, 3).eval(), (x,), optimize=False)
    assert prog.graph.op_counts() == {"conv2d": 1}


def test_mobilenet_v2_is_nhwc_end_to_end() -> None:
    from ember.examples import models

    m, inputs = models.mobilenet_v2(resolution=64)[:2]
    prog = ember.export(m, inputs)
    ops = prog.graph.op_counts()
    assert "conv2d" not in ops and ops["permute"] == 1
    (got,) = prog.load()(*[t.numpy() for t in inputs])
    with torch.no_grad():
        want = m(*inputs).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_quantization_still_sees_nchw_convolutions() -> None:
    m = Chain().eval()
    prog = ember.export(m, (torch.randn(1, 3, 16, 16),))
    assert prog.source_graph is not None
    assert prog.source_graph.op_counts()["conv2d"] == 4  # ember.quantize starts from the NCHW graph


def test_compile_graph_layout_matches_reference_run() -> None:
    """the optimized NHWC program against the unoptimized NCHW one, both through the C runtime"""
    rng = np.random.default_rng(0)
    g = Graph()
    x = g.add_input("x", DType.F32, (2, 5, 7, 6))
    w = g.const(rng.standard_normal((8, 5, 3, 3)).astype(np.float32), "w")
    (y,) = g.add_node("conv2d", [x, w], {"pad_h": 1, "pad_w": 1, "stride_w": 2})
    (z,) = g.add_node("reduce_mean", [y], {"axes_mask": 0b1100, "keepdim": 0})
    g.outputs = [z]
    import copy

    fast = compile_graph(copy.deepcopy(g)).load()
    plain = compile_graph(g, optimize=False).load(reference=True)
    xin = rng.standard_normal((2, 5, 7, 6)).astype(np.float32)
    np.testing.assert_allclose(fast(xin), plain(xin), rtol=1e-5, atol=1e-5)


class Wide(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(32, 40, 3, 1, 1)
        self.b = nn.Conv2d(40, 32, 3, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))


def test_wide_3x3_convolutions_use_winograd_unless_disabled() -> None:
    x = torch.randn(2, 32, 15, 16)  # odd output size: tiles on the bottom edge
    prog, (fast,) = _run(Wide(), x)
    assert prog.graph.op_counts().get("conv2d_winograd") == 2
    direct = ember.export(Wide().eval(), (x,), winograd=False)
    assert "conv2d_winograd" not in direct.graph.op_counts()
    assert direct.to_bytes().__len__() < prog.to_bytes().__len__()  # transformed weights: 16/9 of the bytes


class Inverted(nn.Module):
    """MobileNetV2's inverted residual at a size where the expanded tensor (1.5 MB) leaves L2"""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.expand = nn.Conv2d(16, 96, 1)
        self.dw = nn.Conv2d(96, 96, 3, stride, 1, groups=96)
        self.project = nn.Conv2d(96, 24, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(F.relu6(self.dw(F.relu6(self.expand(x)))))


@pytest.mark.parametrize("stride", [1, 2])
def test_pointwise_expansion_fuses_into_the_depthwise_conv(stride: int) -> None:
    import ember.passes.fuse_pwdw as fuse

    x = torch.randn(1, 16, 64, 63)
    prog, _ = _run(Inverted(stride), x)
    assert prog.graph.op_counts()["pwdw_nhwc"] == 1 and "dwconv2d_nhwc" not in prog.graph.op_counts()
    old = fuse.MIN_EXPANDED_BYTES
    try:
        fuse.MIN_EXPANDED_BYTES = 1 << 62
        unfused, _ = _run(Inverted(stride), x)
    finally:
        fuse.MIN_EXPANDED_BYTES = old
    assert unfused.graph.op_counts()["dwconv2d_nhwc"] == 1
    # the expanded tensor (64 x 63 x 96 floats) is never planned: the peak drops by at least half of it
    assert prog.plan.arena_bytes <= unfused.plan.arena_bytes - 64 * 63 * 96 * 4 // 2


def test_int8_convolutions_run_nhwc_bit_exact() -> None:
    """A quantized inverted residual: 1x1 convs become qlinear over pixels, the depthwise one
    qdwconv2d_nhwc; integer outputs equal the NCHW program's (no layout pass) bit for bit."""
    import ember.passes.layout as layout

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, 2, 1)
            self.body = Inverted(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(F.relu6(self.stem(x)))

    m = Block().eval()
    x = torch.randn(1, 3, 32, 30)
    calib = [(np.random.default_rng(i).standard_normal((1, 3, 32, 30)).astype(np.float32),) for i in range(3)]
    prog = ember.export(m, (x,))
    q = ember.quantize(prog, calibration=calib, scheme="int8")
    ops = q.graph.op_counts()
    assert ops["qdwconv2d_nhwc"] == 1 and ops["qlinear"] == 2 and ops["qconv2d_nhwc"] == 1  # the 3x3 stem too
    assert "qconv2d" not in ops and ops["permute"] == 2  # the float input and the float output
    to_nhwc = layout.to_channels_last
    try:
        layout.to_channels_last = lambda g, winograd=True: g  # type: ignore[assignment]
        import ember.passes.pipeline as pipeline

        pipeline.to_channels_last = layout.to_channels_last  # type: ignore[attr-defined]
        q_nchw = ember.quantize(ember.export(m, (x,)), calibration=calib, scheme="int8")
    finally:
        layout.to_channels_last = to_nhwc
        pipeline.to_channels_last = to_nhwc  # type: ignore[attr-defined]
    assert "qdwconv2d_nhwc" not in q_nchw.graph.op_counts()
    xin = x.numpy()
    (a,) = q.load()(xin)
    (b,) = q_nchw.load()(xin)
    (c,) = q.load(reference=True)(xin)
    np.testing.assert_array_equal(a, c)  # fast kernels == reference kernels
    # same integer arithmetic in both layouts; the final dequantize / float ops are elementwise
    np.testing.assert_array_equal(a, b)


class Residual(nn.Module):
    """ResNet's basic block: relu(conv(relu(conv(x))) + x), and a projection shortcut"""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(32, 32, 3, 1, 1)
        self.b = nn.Conv2d(32, 32, 3, 1, 1)
        self.down = nn.Conv2d(32, 48, 1, 2)
        self.c = nn.Conv2d(32, 48, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.b(F.relu(self.a(x))) + x)
        return F.relu(self.c(y) + self.down(y))


def test_residual_adds_fuse_into_the_convolution() -> None:
    prog, _ = _run(Residual(), torch.randn(1, 32, 14, 14))
    ops = prog.graph.op_counts()
    assert "add" not in ops  # both skips ride in a convolution's epilogue
    with_residual = [n for n in prog.graph.nodes if n.op.startswith("conv2d") and len(n.inputs) == 4]
    assert len(with_residual) == 2 and all(n.attrs.get("act") == 1 for n in with_residual)
