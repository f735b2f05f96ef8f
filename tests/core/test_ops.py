"""Every op: the C reference kernel against the numpy reference of the op table, and the numpy
reference against PyTorch (an independent oracle). Shapes include 1s, primes and odd tails.

Tolerances: float32 kernels accumulate in a different order than numpy's float64 reference; for
unit-scale data 1e-5 relative/absolute covers that (a wrong index or formula is off by O(1)).
Transcendentals (erf/gelu/exp/pow) get 2e-5 for libm differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ember.ir.ops import OPS, Act, nhwc_conv_weight, pack_panels, winograd_weight
from tests.core.helpers import run_one_op

rng = np.random.default_rng(1234)


def r(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return rng.uniform(lo, hi, shape).astype(np.float32)


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(x))


Case = tuple[str, list[np.ndarray], dict[str, Any], Callable[..., torch.Tensor] | None]
CASES: list[Case] = []


def case(
    op: str,
    inputs: list[np.ndarray],
    attrs: dict[str, Any] | None = None,
    torch_fn: Callable[..., torch.Tensor] | None = None,
) -> None:
    CASES.append((op, inputs, attrs or {}, torch_fn))


# conv2d: plain, strided+padded, dilated, grouped, depthwise, 1x1, prime sizes, fused activations
case(
    "conv2d",
    [r(1, 3, 11, 13), r(5, 3, 3, 3), r(5)],
    {"pad_h": 1, "pad_w": 1},
    lambda x, w, b: F.conv2d(x, w, b, padding=1),
)
case(
    "conv2d",
    [r(2, 4, 9, 7), r(6, 4, 3, 2)],
    {"stride_h": 2, "stride_w": 3, "pad_h": 1, "pad_w": 0},
    lambda x, w: F.conv2d(x, w, stride=(2, 3), padding=(1, 0)),
)
case(
    "conv2d",
    [r(1, 2, 13, 13), r(3, 2, 3, 3), r(3)],
    {"dil_h": 2, "dil_w": 3, "pad_h": 2, "pad_w": 3},
    lambda x, w, b: F.conv2d(x, w, b, padding=(2, 3), dilation=(2, 3)),
)
case(
    "conv2d",
    [r(1, 6, 7, 7), r(9, 2, 3, 3), r(9)],
    {"groups": 3, "pad_h": 1, "pad_w": 1},
    lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=3),
)
case(
    "conv2d",
    [r(1, 7, 10, 9), r(7, 1, 5, 5), r(7)],
    {"groups": 7, "pad_h": 2, "pad_w": 2, "stride_h": 2, "stride_w": 2},
    lambda x, w, b: F.conv2d(x, w, b, padding=2, stride=2, groups=7),
)
case(
    "conv2d",
    [r(1, 17, 5, 3), r(11, 17, 1, 1), r(11)],
    {"act": Act.CLAMP, "act_min": 0.0, "act_max": 6.0},
    lambda x, w, b: F.relu6(F.conv2d(x, w, b)),
)
case(
    "conv2d",
    [r(1, 3, 6, 6), r(4, 3, 3, 3), r(4)],
    {"act": Act.HARDSWISH},
    lambda x, w, b: F.hardswish(F.conv2d(x, w, b)),
)


# NHWC convolutions (made by the layout pass): torch sees NCHW through permutes
def _nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)


_CW1, _CW2, _CW3 = r(7, 5, 3, 2), r(37, 3, 1, 1), r(16, 4, 3, 3)
case(
    "conv2d_nhwc",
    [r(2, 9, 11, 5), pack_panels(nhwc_conv_weight(_CW1)), r(7)],
    {"n": 7, "kernel_h": 3, "kernel_w": 2, "stride_h": 2, "pad_h": 1, "pad_w": 1, "dil_w": 2},
    lambda x, p, b: _nhwc(F.conv2d(_nchw(x), t(_CW1), b, stride=(2, 1), padding=1, dilation=(1, 2))),
)
case(
    "conv2d_nhwc",
    [r(1, 7, 6, 3), pack_panels(nhwc_conv_weight(_CW2))],
    {"n": 37, "stride_h": 2, "stride_w": 2},
    lambda x, p: _nhwc(F.conv2d(_nchw(x), t(_CW2), stride=2)),
)
case(
    "conv2d_nhwc",
    [r(1, 5, 5, 4), pack_panels(nhwc_conv_weight(_CW3)), r(16)],
    {
        "n": 16,
        "kernel_h": 3,
        "kernel_w": 3,
        "pad_h": 1,
        "pad_w": 1,
        "act": Act.CLAMP,
        "act_min": 0.0,
        "act_max": 6.0,
    },
    lambda x, p, b: _nhwc(F.relu6(F.conv2d(_nchw(x), t(_CW3), b, padding=1))),
)
_WG1, _WG2 = r(19, 5, 3, 3), r(16, 3, 3, 3)
case(
    "conv2d_winograd",
    [r(2, 9, 11, 5), winograd_weight(_WG1), r(19)],
    {"n": 19, "pad_h": 1, "pad_w": 1},
    lambda x, u, b: _nhwc(F.conv2d(_nchw(x), t(_WG1), b, padding=1)),
)
case(
    "conv2d_winograd",
    [r(1, 6, 5, 3), winograd_weight(_WG2)],
    {"n": 16, "pad_w": 1, "act": Act.RELU},
    lambda x, u: _nhwc(F.relu(F.conv2d(_nchw(x), t(_WG2), padding=(0, 1)))),
)
_PW, _PWB, _PDW, _PDWB = r(19, 5), r(19), r(19, 1, 3, 3), r(19)
case(
    "pwdw_nhwc",
    [r(2, 9, 8, 5), pack_panels(_PW), _PWB, np.ascontiguousarray(_PDW[:, 0].transpose(1, 2, 0)), _PDWB],
    {
        "n": 19,
        "pw_act": Act.CLAMP,
        "pw_act_min": 0.0,
        "pw_act_max": 6.0,
        "stride_h": 2,
        "stride_w": 2,
        "pad_h": 1,
    }
    | {"pad_w": 1, "act": Act.RELU},
    lambda x, p, pb, w, b: _nhwc(
        F.relu(
            F.conv2d(
                F.relu6(F.conv2d(_nchw(x), t(_PW)[:, :, None, None], pb)),
                t(_PDW),
                b,
                stride=2,
                padding=1,
                groups=19,
            )
        )
    ),
)
_CWR = r(8, 4, 3, 3)
case(  # a fused residual add (ResNet's skip): added before the activation
    "conv2d_nhwc",
    [r(1, 6, 7, 4), pack_panels(nhwc_conv_weight(_CWR)), r(8), r(1, 3, 4, 8)],
    {
        "n": 8,
        "kernel_h": 3,
        "kernel_w": 3,
        "stride_h": 2,
        "stride_w": 2,
        "pad_h": 1,
        "pad_w": 1,
        "act": Act.RELU,
    },
    lambda x, p, b, res: F.relu(_nhwc(F.conv2d(_nchw(x), t(_CWR), b, stride=2, padding=1)) + res),
)
case(
    "conv2d_winograd",
    [r(1, 7, 6, 5), winograd_weight(_WG1), r(19), r(1, 7, 6, 19)],
    {"n": 19, "pad_h": 1, "pad_w": 1, "act": Act.RELU},
    lambda x, u, b, res: F.relu(_nhwc(F.conv2d(_nchw(x), t(_WG1), b, padding=1)) + res),
)
_DW1, _DW2 = r(6, 1, 3, 3), r(5, 1, 5, 5)
case(
    "dwconv2d_nhwc",
    [r(1, 8, 9, 6), np.ascontiguousarray(_DW1[:, 0].transpose(1, 2, 0)), r(6)],
    {"pad_h": 1, "pad_w": 1, "act": Act.RELU},
    lambda x, w, b: _nhwc(F.relu(F.conv2d(_nchw(x), t(_DW1), b, padding=1, groups=6))),
)
case(
    "dwconv2d_nhwc",
    [r(2, 11, 10, 5), np.ascontiguousarray(_DW2[:, 0].transpose(1, 2, 0))],
    {"pad_h": 2, "pad_w": 2, "stride_h": 2, "stride_w": 2},
    lambda x, w: _nhwc(F.conv2d(_nchw(x), t(_DW2), padding=2, stride=2, groups=5)),
)
case(
    "max_pool2d_nhwc",
    [r(2, 9, 11, 3)],
    {"kernel_h": 3, "kernel_w": 3, "stride_h": 2, "stride_w": 2, "pad_h": 1, "pad_w": 1},
    lambda x: _nhwc(F.max_pool2d(_nchw(x), 3, 2, 1)),
)
case(
    "max_pool2d_nhwc",
    [r(1, 8, 9, 4)],
    {"kernel_h": 2, "kernel_w": 3, "stride_h": 2, "stride_w": 2, "dil_h": 2, "ceil_mode": 1},
    lambda x: _nhwc(F.max_pool2d(_nchw(x), (2, 3), 2, 0, dilation=(2, 1), ceil_mode=True)),
)

# linear / matmul
case("linear", [r(3, 5, 17), r(13, 17), r(13)], {}, F.linear)
case("linear", [r(1, 1), r(1, 1)], {}, F.linear)
case("linear", [r(4, 31), r(7, 31), r(7)], {"act": Act.SILU}, lambda x, w, b: F.silu(F.linear(x, w, b)))
case("linear", [r(2, 9), r(5, 9), r(5)], {"act": Act.GELU}, lambda x, w, b: F.gelu(F.linear(x, w, b)))
case(
    "linear",
    [r(2, 9), r(5, 9)],
    {"act": Act.GELU_TANH},
    lambda x, w: F.gelu(F.linear(x, w), approximate="tanh"),
)
_W = r(37, 19)
case("linear_packed", [r(3, 19), pack_panels(_W), r(37)], {"n": 37}, lambda x, p, b: F.linear(x, t(_W), b))
case("linear_packed", [r(2, 5, 8), pack_panels(r(16, 8))], {"n": 16, "act": Act.RELU}, None)
case(  # a fused residual add (a 1x1 projection's skip, a transformer's): added before the activation
    "linear_packed",
    [r(2, 5, 19), pack_panels(_W), r(37), r(2, 5, 37)],
    {"n": 37, "act": Act.RELU},
    lambda x, p, b, res: F.relu(F.linear(x, t(_W), b) + res),
)
case("matmul", [r(2, 3, 5, 7), r(2, 3, 7, 4)], {}, torch.matmul)
case("matmul", [r(4, 1, 3, 7), r(5, 7, 2)], {}, torch.matmul)
case("matmul", [r(1, 1), r(1, 13)], {}, torch.matmul)
# binary with broadcasting
for name, fn in [
    ("add", torch.add),
    ("sub", torch.sub),
    ("mul", torch.mul),
    ("maximum", torch.maximum),
    ("minimum", torch.minimum),
]:
    case(name, [r(2, 1, 5, 3), r(4, 1, 3)], {}, fn)
case("div", [r(3, 7), r(1, 7, lo=0.5, hi=2.0)], {}, torch.div)
case("pow", [r(3, 5, lo=0.1, hi=2.0), r(5)], {}, torch.pow)
case("add", [r(2, 3), r(2, 3)], {"act": Act.RELU}, lambda a, b: F.relu(a + b))
case("add", [np.arange(6, dtype=np.int64).reshape(2, 3), np.array([10], np.int64)], {}, torch.add)
case("mul", [np.arange(6, dtype=np.int32).reshape(2, 3), np.array([[2], [3]], np.int32)], {}, torch.mul)
case(
    "div",
    [np.array([7, -7, 9], np.int64), np.array([2, 2, -4], np.int64)],
    {},
    lambda a, b: torch.div(a, b, rounding_mode="trunc"),
)
for name, fn in [
    ("eq", torch.eq),
    ("ne", torch.ne),
    ("lt", torch.lt),
    ("le", torch.le),
    ("gt", torch.gt),
    ("ge", torch.ge),
]:
    case(name, [np.round(r(3, 4)), np.round(r(4))], {}, fn)
case("logical_and", [r(5) > 0, r(3, 5) > 0], {}, torch.logical_and)
case("logical_or", [r(5) > 0, r(3, 5) > 0], {}, torch.logical_or)
case("where", [r(3, 1) > 0, r(3, 4), r(4)], {}, torch.where)
# unary
_UNARY_TORCH = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "silu": F.silu,
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
    "exp": torch.exp,
    "neg": torch.neg,
    "abs": torch.abs,
    "sin": torch.sin,
    "cos": torch.cos,
    "erf": torch.erf,
}
for name, fn in _UNARY_TORCH.items():
    case(name, [r(3, 7, 5, lo=-5, hi=5)], {}, fn)
for name, fn in [
    ("sqrt", torch.sqrt),
    ("rsqrt", torch.rsqrt),
    ("log", torch.log),
    ("reciprocal", torch.reciprocal),
]:
    case(name, [r(4, 9, lo=0.1, hi=4)], {}, fn)
case("gelu", [r(5, 11, lo=-4, hi=4)], {"approximate": 0}, F.gelu)
case("gelu", [r(5, 11, lo=-4, hi=4)], {"approximate": 1}, lambda x: F.gelu(x, approximate="tanh"))
case("logical_not", [r(7) > 0], {}, torch.logical_not)
case("clamp", [r(3, 8, lo=-9, hi=9)], {"min": 0.0, "max": 6.0}, lambda x: torch.clamp(x, 0, 6))
case("clamp", [r(3, 8)], {"min": -0.5}, lambda x: torch.clamp(x, min=-0.5))
# normalization
case("softmax", [r(2, 3, 17, lo=-8, hi=8)], {"axis": 2}, lambda x: torch.softmax(x, 2))
case("softmax", [r(2, 5, 3)], {"axis": 1}, lambda x: torch.softmax(x, 1))
case("log_softmax", [r(4, 13, lo=-8, hi=8)], {"axis": 1}, lambda x: torch.log_softmax(x, 1))
case("log_softmax", [r(3, 4, 5)], {"axis": 0}, lambda x: torch.log_softmax(x, 0))
case(
    "layer_norm",
    [r(2, 5, 19), r(19), r(19)],
    {"n_axes": 1, "eps": 1e-5},
    lambda x, w, b: F.layer_norm(x, (19,), w, b, 1e-5),
)
case("layer_norm", [r(2, 3, 4, 5)], {"n_axes": 2, "eps": 1e-12}, lambda x: F.layer_norm(x, (4, 5), eps=1e-12))
case("rms_norm", [r(3, 23), r(23)], {"n_axes": 1, "eps": 1e-6}, lambda x, w: F.rms_norm(x, (23,), w, 1e-6))
case(
    "batch_norm",
    [r(2, 3, 4, 5), r(3), r(3, lo=0.5, hi=2), r(3), r(3)],
    {"eps": 1e-5},
    lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b, False, 0.0, 1e-5),
)
# pooling
case(
    "max_pool2d",
    [r(1, 3, 11, 11)],
    {"kernel_h": 3, "kernel_w": 3, "stride_h": 2, "stride_w": 2, "pad_h": 1, "pad_w": 1},
    lambda x: F.max_pool2d(x, 3, 2, 1),
)
case(
    "max_pool2d",
    [r(2, 2, 10, 9)],
    {"kernel_h": 2, "kernel_w": 3, "stride_h": 2, "stride_w": 2, "dil_h": 2, "ceil_mode": 1},
    lambda x: F.max_pool2d(x, (2, 3), 2, 0, dilation=(2, 1), ceil_mode=True),
)
case(
    "avg_pool2d",
    [r(1, 3, 9, 9)],
    {"kernel_h": 3, "kernel_w": 3, "stride_h": 2, "stride_w": 2, "pad_h": 1, "pad_w": 1},
    lambda x: F.avg_pool2d(x, 3, 2, 1),
)
case(
    "avg_pool2d",
    [r(1, 2, 10, 7)],
    {
        "kernel_h": 3,
        "kernel_w": 2,
        "stride_h": 2,
        "stride_w": 2,
        "pad_h": 1,
        "pad_w": 1,
        "ceil_mode": 1,
        "count_include_pad": 0,
    },
    lambda x: F.avg_pool2d(x, (3, 2), 2, 1, ceil_mode=True, count_include_pad=False),
)
case(
    "avg_pool2d",
    [r(1, 2, 6, 6)],
    {"kernel_h": 2, "kernel_w": 2, "stride_h": 2, "stride_w": 2, "divisor": 3},
    lambda x: F.avg_pool2d(x, 2, 2, divisor_override=3),
)
case(
    "adaptive_avg_pool2d",
    [r(2, 3, 7, 5)],
    {"out_h": 3, "out_w": 2},
    lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
)
case("adaptive_avg_pool2d", [r(1, 4, 7, 7)], {"out_h": 1, "out_w": 1}, lambda x: F.adaptive_avg_pool2d(x, 1))
# reductions
case(
    "reduce_mean",
    [r(2, 3, 5, 7)],
    {"axes_mask": 0b1100, "keepdim": 1},
    lambda x: x.mean((2, 3), keepdim=True),
)
case("reduce_sum", [r(4, 3, 5)], {"axes_mask": 0b010, "keepdim": 0}, lambda x: x.sum(1))
case("reduce_max", [r(4, 3, 5)], {"axes_mask": 0b101, "keepdim": 0}, lambda x: x.amax((0, 2)))
case(
    "reduce_sum",
    [np.arange(12, dtype=np.int64).reshape(3, 4)],
    {"axes_mask": 0b10, "keepdim": 0},
    lambda x: x.sum(1),
)
# data movement
case("reshape", [r(2, 3, 4)], {"shape": (4, 6)}, lambda x: x.reshape(4, 6))
case("permute", [r(2, 3, 4, 5)], {"perm": (0, 2, 3, 1)}, lambda x: x.permute(0, 2, 3, 1))
case("permute", [r(3, 1, 7)], {"perm": (2, 0, 1)}, lambda x: x.permute(2, 0, 1))
case("expand", [r(3, 1, 2)], {"shape": (2, 3, 5, 2)}, lambda x: x.expand(2, 3, 5, 2))
case("concat", [r(2, 3, 4), r(2, 1, 4), r(2, 5, 4)], {"axis": 1}, lambda *xs: torch.cat(xs, 1))
case(
    "concat",
    [np.arange(3, dtype=np.int64), np.arange(2, dtype=np.int64)],
    {"axis": 0},
    lambda *xs: torch.cat(xs, 0),
)
case("slice", [r(4, 11, 3)], {"axis": 1, "start": 2, "end": 10, "step": 3}, lambda x: x[:, 2:10:3])
case("slice", [r(7, 2)], {"axis": 0, "start": 6, "end": 7, "step": 1}, lambda x: x[6:7])
case(
    "pad",
    [r(1, 2, 3, 4)],
    {"pads": (0, 0, 0, 0, 1, 2, 3, 0), "value": 0.5},
    lambda x: F.pad(x, (3, 0, 1, 2), value=0.5),
)
case("copy", [r(3, 3)], {}, lambda x: x.clone())
case("cast", [r(4, 5, lo=-9, hi=9)], {"dtype": 7}, lambda x: x.to(torch.int64))
case("cast", [np.arange(-3, 4, dtype=np.int64)], {"dtype": 1}, lambda x: x.float())
case("cast", [np.arange(-3, 4, dtype=np.int32)], {"dtype": 8}, lambda x: x.bool())
case(
    "embedding", [r(11, 6), rng.integers(0, 11, (2, 5)).astype(np.int64)], {}, lambda w, i: F.embedding(i, w)
)
case("embedding", [r(7, 3), rng.integers(0, 7, (4,)).astype(np.int32)], {}, lambda w, i: F.embedding(i, w))
# attention
case("sdpa", [r(2, 3, 5, 8), r(2, 3, 7, 8), r(2, 3, 7, 4)], {}, F.scaled_dot_product_attention)
case(
    "sdpa",
    [r(1, 2, 6, 8), r(1, 2, 6, 8), r(1, 2, 6, 8)],
    {"is_causal": 1},
    lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
)
case(
    "sdpa",
    [r(2, 2, 4, 8), r(2, 2, 9, 8), r(2, 2, 9, 8), r(2, 1, 1, 9) > -1.0],
    {"scale": 0.3},
    lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3),
)
case(
    "sdpa",
    [r(1, 2, 4, 8), r(1, 2, 5, 8), r(1, 2, 5, 8), r(4, 5)],
    {},
    lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
)


# quantized ops (bit-exact coverage, torch comparisons and more shapes: tests/quant/test_quant_ops.py)
def _i8(*shape: int) -> np.ndarray:
    return rng.integers(-127, 128, shape).astype(np.int8)


case("quantize", [r(3, 7)], {"scale": 0.02, "zero_point": 3})
case("dequantize", [_i8(3, 7)], {"scale": 0.02, "zero_point": 3})
case(
    "qconv2d",
    [_i8(1, 3, 7, 6), _i8(5, 3, 3, 3), rng.integers(-99, 99, 5).astype(np.int32), r(5, lo=1e-4, hi=1e-3)],
    {"pad_h": 1, "pad_w": 1, "x_zp": -3, "y_zp": 2},
)
case(
    "qlinear",
    [_i8(3, 19), _i8(5, 19), rng.integers(-99, 99, 5).astype(np.int32), r(5, lo=1e-4, hi=1e-3)],
    {"x_zp": 1, "y_zp": -2, "qmin": -2},
)
case("dqlinear", [r(3, 19), _i8(5, 19), r(5, lo=1e-3, hi=1e-2), r(5)], {})
case(
    "q4linear",
    [r(2, 64), rng.integers(0, 256, (3, 32)).astype(np.uint8), r(3, 2, lo=0.01, hi=0.1).astype(np.float16)],
    {"group_size": 32},
)
case(
    "q4embedding",
    [
        rng.integers(0, 256, (6, 16)).astype(np.uint8),
        r(6, 1, lo=0.01, hi=0.1).astype(np.float16),
        rng.integers(0, 6, (2, 3)).astype(np.int32),
    ],
    {"group_size": 32},
)
case(
    "qdwconv2d_nhwc",
    [_i8(2, 7, 9, 5), _i8(3, 3, 5), rng.integers(-99, 99, 5).astype(np.int32), r(5, lo=1e-3, hi=1e-2)],
    {"pad_h": 1, "pad_w": 1, "stride_w": 2, "x_zp": -3, "y_zp": 2, "qmin": 2},
)
case(
    "qconv2d_nhwc",
    [_i8(2, 7, 9, 3), _i8(5, 3, 2, 3), rng.integers(-99, 99, 5).astype(np.int32), r(5, lo=1e-4, hi=1e-3)],
    {"pad_h": 1, "pad_w": 1, "stride_h": 2, "dil_w": 2, "x_zp": 4, "y_zp": -1, "qmax": 100},
)
case(
    "max_pool2d_nhwc",
    [_i8(1, 7, 6, 3)],
    {"kernel_h": 3, "kernel_w": 3, "stride_h": 2, "stride_w": 2, "pad_h": 1},
)
case("qadd", [_i8(2, 9), _i8(2, 9)], {"a_zp": 3, "b_zp": -4, "y_zp": 1, "a_mult": 0.7, "b_mult": 1.3})
case(
    "q8embedding",
    [_i8(6, 5), r(6, lo=0.01, hi=0.1), rng.integers(0, 6, (2, 3)).astype(np.int64)],
    {},
)

IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _tol(op: str) -> float:
    return 2e-5 if op in ("erf", "gelu", "exp", "pow", "sdpa", "log_softmax", "softmax") else 1e-5


@pytest.mark.parametrize("op,inputs,attrs,torch_fn", CASES, ids=IDS)
def test_c_kernel_matches_numpy_reference(
    op: str, inputs: list[np.ndarray], attrs: dict[str, Any], torch_fn: Any
) -> None:
    got, want = run_one_op(op, inputs, attrs)
    assert got.shape == want.shape and got.dtype == want.dtype
    if got.dtype.kind == "f":
        tol = _tol(op)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "op,inputs,attrs,torch_fn",
    [c for c in CASES if c[3] is not None],
    ids=[i for i, c in zip(IDS, CASES) if c[3] is not None],
)
def test_numpy_reference_matches_torch(
    op: str, inputs: list[np.ndarray], attrs: dict[str, Any], torch_fn: Any
) -> None:
    from ember.ir.ops import reference

    (want,) = reference(OPS[op], inputs, attrs)
    with torch.no_grad():
        expected = torch_fn(*[t(x) for x in inputs]).numpy()
    assert want.shape == expected.shape
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(want, expected, rtol=2e-5, atol=2e-5)
    else:
        np.testing.assert_array_equal(want, expected.astype(want.dtype))


def test_every_op_has_a_case() -> None:
    covered = {c[0] for c in CASES}
    assert set(OPS) - covered == set(), f"ops without a kernel test: {set(OPS) - covered}"


def test_sdpa_fully_masked_row_gives_zeros() -> None:
    q, k, v = r(1, 1, 2, 4), r(1, 1, 3, 4), r(1, 1, 3, 4)
    mask = np.array([[True, True, True], [False, False, False]])
    got, want = run_one_op("sdpa", [q, k, v, mask])
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.all(got[0, 0, 1] == 0.0)


def test_embedding_index_out_of_range_is_a_clear_runtime_error() -> None:
    from ember import RuntimeFailure
    from tests.core.helpers import one_op_program

    prog = one_op_program("embedding", [r(5, 3), np.array([1, 7], np.int64)], const_inputs=(0,))
    with pytest.raises(RuntimeFailure, match="out of range"):
        prog.load()(np.array([1, 7], np.int64))


def test_integer_division_by_zero_is_a_clear_runtime_error() -> None:
    from ember import RuntimeFailure
    from tests.core.helpers import one_op_program

    a, b = np.array([4, 5], np.int64), np.array([2, 0], np.int64)
    prog = one_op_program("div", [a, b])
    with pytest.raises(RuntimeFailure):
        prog.load()(a, b)


def test_act_table_matches_runtime_names() -> None:
    assert Act.NAMES[Act.HARDSWISH] == "hardswish" and math.isinf(OPS["conv2d"].full_attrs({})["act_max"])
