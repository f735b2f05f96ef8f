"""The one op table. Every Ember op is defined here once: stable numeric id, inputs, attributes,
shape/dtype rule and numpy reference. The C runtime's op ids and attribute slots are generated from
this table (`python -m ember.ir.gen_c_header`), and the runtime's kernel list is checked against it.

Attributes are stored in the file as 64-bit slots in the order declared here: an "int" takes one slot,
a "float" one slot (IEEE double bits), "ints" a fixed number of slots. Attributes declared with
`stored=False` exist only in the Python IR (the file records the output shape instead).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ember.ir.dtypes import MAX_RANK, DType

Shape = tuple[int, ...]
Attrs = dict[str, Any]


class Act:
    """Activation applied in an op's epilogue (conv2d, linear, binary arithmetic)."""

    NONE = 0
    RELU = 1
    CLAMP = 2
    SIGMOID = 3
    TANH = 4
    SILU = 5
    GELU = 6
    GELU_TANH = 7
    HARDSWISH = 8

    NAMES = {
        0: "none",
        1: "relu",
        2: "clamp",
        3: "sigmoid",
        4: "tanh",
        5: "silu",
        6: "gelu",
        7: "gelu_tanh",
        8: "hardswish",
    }


@dataclass(frozen=True)
class AttrSpec:
    name: str
    kind: str  # "int" | "float" | "ints"
    default: Any = None
    length: int = 1  # slots, for "ints"
    stored: bool = True


@dataclass(frozen=True)
class OpDef:
    name: str
    id: int
    inputs: tuple[str, ...]  # names; a trailing "?" marks optional, "*" variadic
    attrs: tuple[AttrSpec, ...]
    infer: Callable[[list[Shape], list[DType], Attrs], list[tuple[Shape, DType]]]
    ref: Callable[[list[np.ndarray], Attrs], list[np.ndarray]]
    n_outputs: int = 1
    category: str = "compute"  # "compute" | "view" | "elementwise"
    doc: str = ""

    @property
    def min_inputs(self) -> int:
        return sum(1 for i in self.inputs if not i.endswith(("?", "*")))

    @property
    def max_inputs(self) -> int:
        return 64 if any(i.endswith("*") for i in self.inputs) else len(self.inputs)

    @property
    def stored_attrs(self) -> tuple[AttrSpec, ...]:
        return tuple(a for a in self.attrs if a.stored)

    @property
    def n_slots(self) -> int:
        return sum(a.length if a.kind == "ints" else 1 for a in self.stored_attrs)

    def full_attrs(self, attrs: Attrs) -> Attrs:
        out = {a.name: a.default for a in self.attrs}
        unknown = set(attrs) - set(out)
        if unknown:
            raise KeyError(f"op {self.name} has no attribute(s) {sorted(unknown)}")
        out.update(attrs)
        return out


OPS: dict[str, OpDef] = {}
OPS_BY_ID: dict[int, OpDef] = {}


def _def(
    name: str, id: int, inputs: Sequence[str], attrs: Sequence[AttrSpec], infer: Any, ref: Any, **kw: Any
) -> None:
    op = OpDef(name, id, tuple(inputs), tuple(attrs), infer, ref, **kw)
    assert name not in OPS and id not in OPS_BY_ID, name
    OPS[name] = op
    OPS_BY_ID[id] = op


def get_op(name: str) -> OpDef:
    return OPS[name]


# ----------------------------------------------------------------------------------------- helpers
def f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


_erf = np.frompyfunc(math.erf, 1, 1)


def np_erf(x: np.ndarray) -> np.ndarray:
    return _erf(np.asarray(x, dtype=np.float64)).astype(np.float64)


def apply_act(y: np.ndarray, act: int, lo: float, hi: float) -> np.ndarray:
    y64 = np.asarray(y, dtype=np.float64)
    if act == Act.NONE:
        r = y64
    elif act == Act.RELU:
        r = np.maximum(y64, 0.0)
    elif act == Act.CLAMP:
        r = np.minimum(np.maximum(y64, lo), hi)
    elif act == Act.SIGMOID:
        r = 1.0 / (1.0 + np.exp(-y64))
    elif act == Act.TANH:
        r = np.tanh(y64)
    elif act == Act.SILU:
        r = y64 / (1.0 + np.exp(-y64))
    elif act == Act.GELU:
        r = 0.5 * y64 * (1.0 + np_erf(y64 / math.sqrt(2.0)))
    elif act == Act.GELU_TANH:
        r = 0.5 * y64 * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (y64 + 0.044715 * y64**3)))
    elif act == Act.HARDSWISH:
        r = y64 * np.clip(y64 + 3.0, 0.0, 6.0) / 6.0
    else:
        raise ValueError(f"unknown activation {act}")
    return r.astype(np.float32)


EPILOGUE = (
    AttrSpec("act", "int", Act.NONE),
    AttrSpec("act_min", "float", -math.inf),
    AttrSpec("act_max", "float", math.inf),
)


def broadcast_shapes(*shapes: Shape) -> Shape:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError as exc:
        raise ValueError(f"shapes {list(shapes)} do not broadcast") from exc


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"axis {axis} out of range for rank {rank}")
    return axis % max(rank, 1)


def same(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    return [(s[0], d[0])]


# --------------------------------------------------------------------------------------- conv/gemm
# the geometry attributes shared by conv2d and qconv2d (same slots, same meaning)
CONV_GEOMETRY = (
    AttrSpec("stride_h", "int", 1),
    AttrSpec("stride_w", "int", 1),
    AttrSpec("pad_h", "int", 0),
    AttrSpec("pad_w", "int", 0),
    AttrSpec("dil_h", "int", 1),
    AttrSpec("dil_w", "int", 1),
    AttrSpec("groups", "int", 1),
)


def _conv_out(n: int, k: int, s: int, p: int, dil: int) -> int:
    return (n + 2 * p - dil * (k - 1) - 1) // s + 1


def _conv2d_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x, w = s[0], s[1]
    if len(x) != 4 or len(w) != 4:
        raise ValueError(f"conv2d expects 4-D input and weight, got {x} and {w}")
    g = a["groups"]
    if x[1] != w[1] * g or w[0] % g:
        raise ValueError(f"conv2d channels: input {x[1]}, weight {w}, groups {g}")
    if len(s) > 2 and s[2] != (w[0],):
        raise ValueError(f"conv2d bias shape {s[2]} != ({w[0]},)")
    oh = _conv_out(x[2], w[2], a["stride_h"], a["pad_h"], a["dil_h"])
    ow = _conv_out(x[3], w[3], a["stride_w"], a["pad_w"], a["dil_w"])
    if oh <= 0 or ow <= 0:
        raise ValueError("conv2d output would be empty")
    return [((x[0], w[0], oh, ow), d[0])]


def _conv2d_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    out = _conv2d_acc(i[0].astype(np.float64), i[1].astype(np.float64), a)
    if len(i) > 2:
        out += i[2].astype(np.float64)[None, :, None, None]
    return [apply_act(out, a["act"], a["act_min"], a["act_max"])]


def _linear_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x, w = s[0], s[1]
    if len(w) != 2 or len(x) < 1 or x[-1] != w[1]:
        raise ValueError(f"linear: input {x} does not match weight {w} (expected [..., {w[-1]}])")
    if len(s) > 2 and s[2] != (w[0],):
        raise ValueError(f"linear bias shape {s[2]} != ({w[0]},)")
    return [((*x[:-1], w[0]), d[0])]


def _linear_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    y = i[0].astype(np.float64) @ i[1].astype(np.float64).T
    if len(i) > 2:
        y = y + i[2]
    return [apply_act(y, a["act"], a["act_min"], a["act_max"])]


def _matmul_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x, y = s
    if len(x) < 2 or len(y) < 2 or x[-1] != y[-2]:
        raise ValueError(f"matmul: shapes {x} and {y} do not multiply (expected rank >= 2, K match)")
    batch = broadcast_shapes(x[:-2], y[:-2])
    return [((*batch, x[-2], y[-1]), d[0])]


_def(
    "conv2d",
    1,
    ["x", "weight", "bias?"],
    [*CONV_GEOMETRY, *EPILOGUE],
    _conv2d_infer,
    _conv2d_ref,
    doc="2-D convolution, NCHW input, OIHW weight, symmetric padding, fused activation.",
)
_def(
    "linear",
    2,
    ["x", "weight", "bias?"],
    EPILOGUE,
    _linear_infer,
    _linear_ref,
    doc="y = x @ W^T + b over the last axis, fused activation.",
)
PANEL = 16  # columns per weight panel of linear_packed (the GEMM microkernels' NR)


def pack_panels(w: np.ndarray) -> np.ndarray:
    """W[N, K] -> panels P[ceil(N/16), K, 16]: P[p, k, j] = W[16p + j, k], zero past N."""
    n, k = w.shape
    p = -(-n // PANEL)
    padded = np.zeros((p * PANEL, k), dtype=w.dtype)
    padded[:n] = w
    return np.ascontiguousarray(padded.reshape(p, PANEL, k).transpose(0, 2, 1))


def unpack_panels(p: np.ndarray, n: int) -> np.ndarray:
    return np.ascontiguousarray(p.transpose(0, 2, 1).reshape(-1, p.shape[1])[:n])


def _linear_packed_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x, w = s[0], s[1]
    n = a["n"]
    if len(w) != 3 or w[2] != PANEL or n < 1 or w[0] != -(-n // PANEL) or len(x) < 1 or x[-1] != w[1]:
        raise ValueError(f"linear_packed: input {x}, packed weight {w} and n={n} do not match")
    if len(s) > 2 and s[2] != (n,):
        raise ValueError(f"linear_packed bias shape {s[2]} != ({n},)")
    if len(s) > 3 and s[3] != (*x[:-1], n):
        raise ValueError(f"linear_packed residual shape {s[3]} != the output's {(*x[:-1], n)}")
    return [((*x[:-1], n), d[0])]


def _linear_packed_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    y = i[0].astype(np.float64) @ unpack_panels(i[1], a["n"]).astype(np.float64).T
    if len(i) > 2:
        y = y + i[2]
    if len(i) > 3:
        y = y + i[3].astype(np.float64)
    return [apply_act(y, a["act"], a["act_min"], a["act_max"])]


_def(
    "linear_packed",
    4,
    ["x", "weight_panels", "bias?", "residual?"],
    [AttrSpec("n", "int", 1), *EPILOGUE],
    _linear_packed_infer,
    _linear_packed_ref,
    doc="linear whose constant weight was packed at export into 16-column panels [ceil(N/16), K, 16], "
    "so the runtime uses it in place from the mapped file. An optional residual (the output's shape) is "
    "added before the activation.",
)
# ------------------------------------------------------------------------------------ NHWC convolution
# Produced by the layout pass (passes/layout.py) for convolution chains; never by the frontend.
NHWC_CONV_GEOMETRY = (
    AttrSpec("stride_h", "int", 1),
    AttrSpec("stride_w", "int", 1),
    AttrSpec("pad_h", "int", 0),
    AttrSpec("pad_w", "int", 0),
    AttrSpec("dil_h", "int", 1),
    AttrSpec("dil_w", "int", 1),
)


def _nhwc_out(x: Shape, kh: int, kw: int, a: Attrs, op: str) -> tuple[int, int]:
    oh = _conv_out(x[1], kh, a["stride_h"], a["pad_h"], a["dil_h"])
    ow = _conv_out(x[2], kw, a["stride_w"], a["pad_w"], a["dil_w"])
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{op} output would be empty")
    return oh, ow


def _conv2d_nhwc_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x, w, n, kh, kw = s[0], s[1], a["n"], a["kernel_h"], a["kernel_w"]
    if len(x) != 4 or n < 1 or kh < 1 or kw < 1:
        raise ValueError(f"conv2d_nhwc expects a 4-D NHWC input and positive n/kernel, got {x}")
    if len(w) != 3 or w[0] != -(-n // PANEL) or w[1] != kh * kw * x[3] or w[2] != PANEL:
        raise ValueError(f"conv2d_nhwc: input {x}, weight panels {w}, n={n}, kernel {kh}x{kw} do not match")
    if len(s) > 2 and s[2] != (n,):
        raise ValueError(f"conv2d_nhwc bias shape {s[2]} != ({n},)")
    oh, ow = _nhwc_out(x, kh, kw, a, "conv2d_nhwc")
    if len(s) > 3 and s[3] != (x[0], oh, ow, n):
        raise ValueError(f"conv2d_nhwc residual shape {s[3]} != the output's {(x[0], oh, ow, n)}")
    return [((x[0], oh, ow, n), d[0])]


def nhwc_conv_weight(w: np.ndarray) -> np.ndarray:
    """OIHW conv weight -> [O, KH*KW*I] rows with K ordered (ky, kx, ci): the NHWC im2col order."""
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1))


def _im2col_nhwc(x: np.ndarray, kh: int, kw: int, a: Attrs) -> np.ndarray:
    n, h, w, c = x.shape
    oh, ow = _nhwc_out(x.shape, kh, kw, a, "conv2d_nhwc")
    ph, pw = a["pad_h"], a["pad_w"]
    xp = np.zeros((n, h + 2 * ph, w + 2 * pw, c), x.dtype)
    xp[:, ph : ph + h, pw : pw + w] = x
    cols = np.empty((n, oh, ow, kh, kw, c), x.dtype)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * a["dil_h"], kx * a["dil_w"]
            cols[:, :, :, ky, kx] = xp[
                :,
                y0 : y0 + (oh - 1) * a["stride_h"] + 1 : a["stride_h"],
                x0 : x0 + (ow - 1) * a["stride_w"] + 1 : a["stride_w"],
            ]
    return cols.reshape(n, oh, ow, kh * kw * c)


def _conv2d_nhwc_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    cols = _im2col_nhwc(i[0].astype(np.float64), a["kernel_h"], a["kernel_w"], a)
    w = unpack_panels(i[1], a["n"]).astype(np.float64)
    y = cols @ w.T
    if len(i) > 2:
        y = y + i[2].astype(np.float64)
    if len(i) > 3:
        y = y + i[3].astype(np.float64)
    return [apply_act(y, a["act"], a["act_min"], a["act_max"])]


def _dwconv2d_nhwc_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x, w = s[0], s[1]
    if len(x) != 4 or len(w) != 3 or w[2] != x[3]:
        raise ValueError(f"dwconv2d_nhwc expects NHWC input and [KH, KW, C] weight, got {x} and {w}")
    if len(s) > 2 and s[2] != (x[3],):
        raise ValueError(f"dwconv2d_nhwc bias shape {s[2]} != ({x[3]},)")
    oh, ow = _nhwc_out(x, w[0], w[1], a, "dwconv2d_nhwc")
    return [((x[0], oh, ow, x[3]), d[0])]


def _dwconv2d_nhwc_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x, w = i[0].astype(np.float64), i[1].astype(np.float64)
    kh, kw, c = w.shape
    cols = _im2col_nhwc(x, kh, kw, a).reshape(*x.shape[:1], -1, kh * kw, c)
    y = (cols * w.reshape(kh * kw, c)).sum(axis=-2)
    (shape, _), *_ = _dwconv2d_nhwc_infer([x.shape, w.shape], [DType.F32] * 2, a)
    y = y.reshape(shape)
    if len(i) > 2:
        y = y + i[2].astype(np.float64)
    return [apply_act(y, a["act"], a["act_min"], a["act_max"])]


_def(
    "conv2d_nhwc",
    5,
    ["x", "weight_panels", "bias?", "residual?"],
    [
        AttrSpec("n", "int", 1),
        AttrSpec("kernel_h", "int", 1),
        AttrSpec("kernel_w", "int", 1),
        *NHWC_CONV_GEOMETRY,
        *EPILOGUE,
    ],
    _conv2d_nhwc_infer,
    _conv2d_nhwc_ref,
    doc="2-D convolution (groups 1) on an NHWC input; the weight is packed at export as 16-column panels "
    "[ceil(n/16), KH*KW*C, 16] with K ordered (ky, kx, c), the GEMM's B read in place. An optional residual "
    "(the output's shape) is added before the activation.",
)
_def(
    "dwconv2d_nhwc",
    6,
    ["x", "weight", "bias?"],
    [*NHWC_CONV_GEOMETRY, *EPILOGUE],
    _dwconv2d_nhwc_infer,
    _dwconv2d_nhwc_ref,
    doc="Depthwise 2-D convolution (one filter per channel) on an NHWC input, weight [KH, KW, C].",
)


def _pwdw_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x, p, pb, w, b, n = s[0], s[1], s[2], s[3], s[4], a["n"]
    if len(x) != 4 or n < 1 or len(p) != 3 or p[0] != -(-n // PANEL) or p[1] != x[3] or p[2] != PANEL:
        raise ValueError(f"pwdw_nhwc: input {x}, pointwise panels {p} and n={n} do not match")
    if pb != (n,) or len(w) != 3 or w[2] != n or b != (n,):
        raise ValueError(f"pwdw_nhwc: biases {pb}, {b} and depthwise weight {w} must match n={n}")
    oh, ow = _nhwc_out(x, w[0], w[1], a, "pwdw_nhwc")
    return [((x[0], oh, ow, n), d[0])]


def _pwdw_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    pw = {"n": a["n"], "act": a["pw_act"], "act_min": a["pw_act_min"], "act_max": a["pw_act_max"]}
    (e,) = _linear_packed_ref(i[:3], pw)  # the expanded tensor, float32 as in the unfused graph
    return _dwconv2d_nhwc_ref([e, i[3], i[4]], a)


_def(
    "pwdw_nhwc",
    8,
    ["x", "pw_panels", "pw_bias", "dw_weight", "dw_bias"],
    [
        AttrSpec("n", "int", 1),
        AttrSpec("pw_act", "int", Act.NONE),
        AttrSpec("pw_act_min", "float", -math.inf),
        AttrSpec("pw_act_max", "float", math.inf),
        *NHWC_CONV_GEOMETRY,
        *EPILOGUE,
    ],
    _pwdw_infer,
    _pwdw_ref,
    doc="A 1x1 convolution (linear_packed over channels, its own activation) feeding a depthwise "
    "convolution (dwconv2d_nhwc), fused so the expanded tensor is made a few rows at a time and never "
    "stored whole (MobileNet's inverted residual).",
)

# Winograd F(2x2, 3x3): Y = A^T [(G g G^T) * (B^T d B)] A per 4x4 input tile / 2x2 output tile
WINO_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
WINO_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
WINO_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)


def winograd_weight(w: np.ndarray) -> np.ndarray:
    """OIHW 3x3 weight -> U[16, ceil(O/16), C, 16]: U[xi] = panels of (G g G^T)[xi] as a [C, O] matrix."""
    u = np.einsum("ij,ocjk,lk->iloc", WINO_G, w.astype(np.float64), WINO_G).reshape(
        16, w.shape[0], w.shape[1]
    )
    return np.stack([pack_panels(u[xi].astype(np.float32)) for xi in range(16)])


def _wino_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x, u, n = s[0], s[1], a["n"]
    if (
        len(x) != 4
        or n < 1
        or len(u) != 4
        or u[0] != 16
        or u[1] != -(-n // PANEL)
        or u[2] != x[3]
        or u[3] != PANEL
    ):
        raise ValueError(f"conv2d_winograd: input {x}, transformed weight {u} and n={n} do not match")
    if len(s) > 2 and s[2] != (n,):
        raise ValueError(f"conv2d_winograd bias shape {s[2]} != ({n},)")
    oh, ow = x[1] + 2 * a["pad_h"] - 2, x[2] + 2 * a["pad_w"] - 2
    if oh <= 0 or ow <= 0 or a["pad_h"] < 0 or a["pad_w"] < 0:
        raise ValueError("conv2d_winograd output would be empty")
    if len(s) > 3 and s[3] != (x[0], oh, ow, n):
        raise ValueError(f"conv2d_winograd residual shape {s[3]} != the output's {(x[0], oh, ow, n)}")
    return [((x[0], oh, ow, n), d[0])]


def _wino_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x, n = i[0].astype(np.float64), a["n"]
    u = np.stack([unpack_panels(i[1][xi], n) for xi in range(16)]).astype(np.float64).reshape(4, 4, n, -1)
    (shape, _), *_ = _wino_infer([x.shape, i[1].shape], [DType.F32] * 2, a)
    b, oh, ow, _ = shape
    th, tw = -(-oh // 2), -(-ow // 2)
    ph, pw = a["pad_h"], a["pad_w"]
    xp = np.zeros((b, 2 * th + 2, 2 * tw + 2, x.shape[3]))
    h, w = min(x.shape[1], 2 * th + 2 - ph), min(x.shape[2], 2 * tw + 2 - pw)
    xp[:, ph : ph + h, pw : pw + w] = x[:, :h, :w]
    y = np.zeros((b, 2 * th, 2 * tw, n))
    for ty in range(th):
        for tx in range(tw):
            d = xp[:, 2 * ty : 2 * ty + 4, 2 * tx : 2 * tx + 4]  # [b, 4, 4, C]
            v = np.einsum("ij,bjkc,lk->bilc", WINO_BT, d, WINO_BT)
            m = np.einsum("bilc,iloc->bilo", v, u)
            y[:, 2 * ty : 2 * ty + 2, 2 * tx : 2 * tx + 2] = np.einsum(
                "ij,bjko,lk->bilo", WINO_AT, m, WINO_AT
            )
    y = y[:, :oh, :ow]
    if len(i) > 2:
        y = y + i[2].astype(np.float64)
    if len(i) > 3:
        y = y + i[3].astype(np.float64)
    return [apply_act(y, a["act"], a["act_min"], a["act_max"])]


_def(
    "conv2d_winograd",
    7,
    ["x", "weight_wino", "bias?", "residual?"],
    [AttrSpec("n", "int", 1), AttrSpec("pad_h", "int", 0), AttrSpec("pad_w", "int", 0), *EPILOGUE],
    _wino_infer,
    _wino_ref,
    doc="3x3 convolution, stride 1, on an NHWC input by Winograd F(2x2, 3x3): 16 GEMMs on 4x4 input tiles; "
    "the weight is transformed at export to G g G^T as 16 panel-packed [C, n] matrices "
    "[16, ceil(n/16), C, 16]. An optional residual (the output's shape) is added before the activation.",
)
_def(
    "matmul",
    3,
    ["a", "b"],
    [],
    _matmul_infer,
    lambda i, a: [f32(i[0].astype(np.float64) @ i[1].astype(np.float64))],
    doc="Batched matrix product with broadcast batch dimensions (covers mm and bmm).",
)


# --------------------------------------------------------------------------------------- binary
def _binary_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if d[0] != d[1]:
        raise ValueError(f"binary op operands differ in dtype: {d[0].short} vs {d[1].short}")
    return [(broadcast_shapes(s[0], s[1]), d[0])]


def _cmp_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if d[0] != d[1]:
        raise ValueError(f"comparison operands differ in dtype: {d[0].short} vs {d[1].short}")
    return [(broadcast_shapes(s[0], s[1]), DType.BOOL)]


def _binary_ref(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Any:
    def ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
        x, y = i
        if x.dtype == np.float32:
            r = fn(x.astype(np.float64), y.astype(np.float64))
            return [apply_act(r, a["act"], a["act_min"], a["act_max"])]
        return [fn(x, y).astype(x.dtype)]

    return ref


def _int_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if np.issubdtype(x.dtype, np.integer):
        return np.trunc(x / y).astype(x.dtype)
    return x / y


for _name, _id, _fn in [
    ("add", 10, np.add),
    ("sub", 11, np.subtract),
    ("mul", 12, np.multiply),
    ("div", 13, _int_div),
    ("pow", 14, np.power),
    ("maximum", 15, np.maximum),
    ("minimum", 16, np.minimum),
]:
    _def(
        _name,
        _id,
        ["a", "b"],
        EPILOGUE,
        _binary_infer,
        _binary_ref(_fn),
        category="elementwise",
        doc=f"Elementwise {_name} with numpy broadcasting, fused activation (float).",
    )

for _name, _id, _fn in [
    ("eq", 20, np.equal),
    ("ne", 21, np.not_equal),
    ("lt", 22, np.less),
    ("le", 23, np.less_equal),
    ("gt", 24, np.greater),
    ("ge", 25, np.greater_equal),
]:
    _def(
        _name,
        _id,
        ["a", "b"],
        [],
        _cmp_infer,
        (lambda f: lambda i, a: [f(i[0], i[1])])(_fn),
        category="elementwise",
        doc=f"Elementwise comparison {_name}, bool result.",
    )

_def(
    "logical_and",
    26,
    ["a", "b"],
    [],
    _cmp_infer,
    lambda i, a: [np.logical_and(i[0], i[1])],
    category="elementwise",
)
_def(
    "logical_or",
    27,
    ["a", "b"],
    [],
    _cmp_infer,
    lambda i, a: [np.logical_or(i[0], i[1])],
    category="elementwise",
)


def _where_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if d[0] != DType.BOOL or d[1] != d[2]:
        raise ValueError(f"where expects (bool, T, T), got ({d[0].short}, {d[1].short}, {d[2].short})")
    return [(broadcast_shapes(*s), d[1])]


_def(
    "where",
    28,
    ["cond", "a", "b"],
    [],
    _where_infer,
    lambda i, a: [np.where(i[0], i[1], i[2])],
    category="elementwise",
    doc="Select a where cond else b (covers masked_fill).",
)


# ---------------------------------------------------------------------------------------- unary
def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Any:
    def ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            return [f32(fn(i[0].astype(np.float64)))]

    return ref


_UNARY: list[tuple[str, int, Callable[[np.ndarray], np.ndarray]]] = [
    ("relu", 30, lambda x: np.maximum(x, 0)),
    ("sigmoid", 31, lambda x: 1 / (1 + np.exp(-x))),
    ("tanh", 32, np.tanh),
    ("silu", 33, lambda x: x / (1 + np.exp(-x))),
    ("hardswish", 35, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("hardsigmoid", 36, lambda x: np.clip(x + 3, 0, 6) / 6),
    ("sqrt", 37, np.sqrt),
    ("rsqrt", 38, lambda x: 1 / np.sqrt(x)),
    ("exp", 39, np.exp),
    ("log", 40, np.log),
    ("neg", 41, np.negative),
    ("abs", 42, np.abs),
    ("sin", 43, np.sin),
    ("cos", 44, np.cos),
    ("erf", 45, np_erf),
    ("reciprocal", 46, lambda x: 1 / x),
]
for _name, _id, _fn in _UNARY:
    _def(
        _name, _id, ["x"], [], same, _unary(_fn), category="elementwise", doc=f"Elementwise {_name} (float)."
    )


def _gelu_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    return [apply_act(i[0], Act.GELU_TANH if a["approximate"] else Act.GELU, 0, 0)]


_def(
    "gelu",
    34,
    ["x"],
    [AttrSpec("approximate", "int", 0)],
    same,
    _gelu_ref,
    category="elementwise",
    doc="GELU; approximate=0 uses erf, 1 uses the tanh approximation.",
)
_def("logical_not", 47, ["x"], [], same, lambda i, a: [np.logical_not(i[0])], category="elementwise")


def _clamp_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    return [f32(np.minimum(np.maximum(i[0], a["min"]), a["max"]))]


_def(
    "clamp",
    50,
    ["x"],
    [AttrSpec("min", "float", -math.inf), AttrSpec("max", "float", math.inf)],
    same,
    _clamp_ref,
    category="elementwise",
    doc="Clamp to [min, max] (covers relu6 and hardtanh).",
)


# ----------------------------------------------------------------------------------- normalizing
def _softmax_ref(log: bool) -> Any:
    def ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
        x = i[0].astype(np.float64)
        ax = norm_axis(a["axis"], x.ndim)
        m = x.max(axis=ax, keepdims=True)
        e = np.exp(x - m)
        s = e.sum(axis=ax, keepdims=True)
        return [f32((x - m) - np.log(s) if log else e / s)]

    return ref


def _axis_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    norm_axis(a["axis"], len(s[0]))
    return [(s[0], d[0])]


_def("softmax", 51, ["x"], [AttrSpec("axis", "int", -1)], _axis_infer, _softmax_ref(False))
_def("log_softmax", 52, ["x"], [AttrSpec("axis", "int", -1)], _axis_infer, _softmax_ref(True))


def _norm_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    k = a["n_axes"]
    if not 1 <= k <= len(s[0]):
        raise ValueError(f"normalizing over {k} trailing axes of a rank-{len(s[0])} tensor")
    for extra in s[1:]:
        if tuple(extra) != tuple(s[0][-k:]):
            raise ValueError(f"norm weight/bias shape {extra} != normalized shape {s[0][-k:]}")
    return [(s[0], d[0])]


def _layer_norm_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x = i[0].astype(np.float64)
    axes = tuple(range(x.ndim - a["n_axes"], x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + a["eps"])
    if len(i) > 1:
        y = y * i[1]
    if len(i) > 2:
        y = y + i[2]
    return [f32(y)]


def _rms_norm_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x = i[0].astype(np.float64)
    axes = tuple(range(x.ndim - a["n_axes"], x.ndim))
    y = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + a["eps"])
    if len(i) > 1:
        y = y * i[1]
    return [f32(y)]


_def(
    "layer_norm",
    53,
    ["x", "weight?", "bias?"],
    [AttrSpec("n_axes", "int", 1), AttrSpec("eps", "float", 1e-5)],
    _norm_infer,
    _layer_norm_ref,
    doc="Layer norm over the last n_axes axes.",
)
_def(
    "rms_norm",
    54,
    ["x", "weight?"],
    [AttrSpec("n_axes", "int", 1), AttrSpec("eps", "float", 1e-6)],
    _norm_infer,
    _rms_norm_ref,
    doc="RMS norm over the last n_axes axes.",
)


def _bn_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if len(s[0]) < 2 or any(t != (s[0][1],) for t in s[1:]):
        raise ValueError(f"batch_norm: input {s[0]} with per-channel params {s[1:]}")
    return [(s[0], d[0])]


def _bn_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x, mean, var, w, b = (t.astype(np.float64) for t in i)
    sh = (1, -1) + (1,) * (x.ndim - 2)
    return [f32((x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + a["eps"]) * w.reshape(sh) + b.reshape(sh))]


_def(
    "batch_norm",
    55,
    ["x", "mean", "var", "weight", "bias"],
    [AttrSpec("eps", "float", 1e-5)],
    _bn_infer,
    _bn_ref,
    doc="Inference batch norm over axis 1 (usually folded away by the bn-folding pass).",
)


# ------------------------------------------------------------------------------------------ pooling
def _pool_out(n: int, k: int, s: int, p: int, dil: int, ceil: int) -> int:
    span = n + 2 * p - dil * (k - 1) - 1
    o = (-(-span // s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def _pool_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x = s[0]
    if len(x) != 4:
        raise ValueError(f"pool2d expects a 4-D NCHW input, got {x}")
    dh, dw = a.get("dil_h", 1), a.get("dil_w", 1)
    if 2 * a["pad_h"] > a["kernel_h"] or 2 * a["pad_w"] > a["kernel_w"]:
        raise ValueError("pool2d padding must be at most half the kernel size")
    oh = _pool_out(x[2], a["kernel_h"], a["stride_h"], a["pad_h"], dh, a["ceil_mode"])
    ow = _pool_out(x[3], a["kernel_w"], a["stride_w"], a["pad_w"], dw, a["ceil_mode"])
    if oh <= 0 or ow <= 0:
        raise ValueError("pool2d output would be empty")
    return [((x[0], x[1], oh, ow), d[0])]


def _pool_windows(x: np.ndarray, a: Attrs) -> Any:
    (_, _, oh, ow), _ = _pool_infer([x.shape], [DType.F32], a)[0]
    dh, dw = a.get("dil_h", 1), a.get("dil_w", 1)
    for oy in range(oh):
        for ox in range(ow):
            ys = [oy * a["stride_h"] - a["pad_h"] + k * dh for k in range(a["kernel_h"])]
            xs = [ox * a["stride_w"] - a["pad_w"] + k * dw for k in range(a["kernel_w"])]
            yield oy, ox, ys, xs, oh, ow


def _maxpool_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x = i[0]
    out = None
    for oy, ox, ys, xs, oh, ow in _pool_windows(x, a):
        if out is None:
            out = np.empty((x.shape[0], x.shape[1], oh, ow), x.dtype)
        ys = [y for y in ys if 0 <= y < x.shape[2]]
        xs = [v for v in xs if 0 <= v < x.shape[3]]
        out[:, :, oy, ox] = x[:, :, ys][:, :, :, xs].max(axis=(2, 3))
    return [out]


def _avgpool_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x = i[0].astype(np.float64)
    h, w = x.shape[2], x.shape[3]
    out = None
    for oy, ox, ys, xs, oh, ow in _pool_windows(x, a):
        if out is None:
            out = np.empty((x.shape[0], x.shape[1], oh, ow), np.float32)
        # torch semantics: the count covers the padded window clipped to the padded input
        y0, x0 = ys[0], xs[0]
        y1 = min(y0 + a["kernel_h"], h + a["pad_h"])
        x1 = min(x0 + a["kernel_w"], w + a["pad_w"])
        pool_size = (y1 - y0) * (x1 - x0)
        vy = [y for y in ys if 0 <= y < h]
        vx = [v for v in xs if 0 <= v < w]
        total = x[:, :, vy][:, :, :, vx].sum(axis=(2, 3))
        if a["divisor"]:
            div = a["divisor"]
        elif a["count_include_pad"]:
            div = pool_size
        else:
            div = len(vy) * len(vx)
        out[:, :, oy, ox] = total / div
    return [out]


_POOL = [
    AttrSpec("kernel_h", "int", 1),
    AttrSpec("kernel_w", "int", 1),
    AttrSpec("stride_h", "int", 1),
    AttrSpec("stride_w", "int", 1),
    AttrSpec("pad_h", "int", 0),
    AttrSpec("pad_w", "int", 0),
]
_def(
    "max_pool2d",
    60,
    ["x"],
    [*_POOL, AttrSpec("dil_h", "int", 1), AttrSpec("dil_w", "int", 1), AttrSpec("ceil_mode", "int", 0)],
    _pool_infer,
    _maxpool_ref,
)
_def(
    "avg_pool2d",
    61,
    ["x"],
    [
        *_POOL,
        AttrSpec("ceil_mode", "int", 0),
        AttrSpec("count_include_pad", "int", 1),
        AttrSpec("divisor", "int", 0),
    ],
    _pool_infer,
    _avgpool_ref,
)


def _pool_nhwc_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x = s[0]
    if len(x) != 4:
        raise ValueError(f"max_pool2d_nhwc expects a 4-D NHWC input, got {x}")
    ((n, c, oh, ow), dt), *_ = _pool_infer([(x[0], x[3], x[1], x[2])], d, a)
    return [((n, oh, ow, c), dt)]


def _maxpool_nhwc_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    (y,) = _maxpool_ref([np.ascontiguousarray(i[0].transpose(0, 3, 1, 2))], a)
    return [np.ascontiguousarray(y.transpose(0, 2, 3, 1))]


_def(
    "max_pool2d_nhwc",
    66,
    ["x"],
    [*_POOL, AttrSpec("dil_h", "int", 1), AttrSpec("dil_w", "int", 1), AttrSpec("ceil_mode", "int", 0)],
    _pool_nhwc_infer,
    _maxpool_nhwc_ref,
    doc="max_pool2d on an NHWC input (same attributes and slots as max_pool2d).",
)


def _adaptive_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if len(s[0]) != 4 or a["out_h"] <= 0 or a["out_w"] <= 0:
        raise ValueError(f"adaptive_avg_pool2d expects NCHW input and a positive size, got {s[0]}")
    return [((*s[0][:2], a["out_h"], a["out_w"]), d[0])]


def _adaptive_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x = i[0].astype(np.float64)
    h, w = x.shape[2:]
    oh, ow = a["out_h"], a["out_w"]
    out = np.empty((*x.shape[:2], oh, ow), np.float32)
    for oy in range(oh):
        y0, y1 = (oy * h) // oh, -((-(oy + 1) * h) // oh)
        for ox in range(ow):
            x0, x1 = (ox * w) // ow, -((-(ox + 1) * w) // ow)
            out[:, :, oy, ox] = x[:, :, y0:y1, x0:x1].mean(axis=(2, 3))
    return [out]


_def(
    "adaptive_avg_pool2d",
    62,
    ["x"],
    [AttrSpec("out_h", "int", 1), AttrSpec("out_w", "int", 1)],
    _adaptive_infer,
    _adaptive_ref,
)


# ------------------------------------------------------------------------------------------ reduce
def _reduce_axes(a: Attrs, rank: int) -> tuple[int, ...]:
    return tuple(i for i in range(rank) if a["axes_mask"] >> i & 1)


def _reduce_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    x = s[0]
    if a["axes_mask"] >> len(x):
        raise ValueError(f"reduce axes mask {a['axes_mask']:#x} beyond rank {len(x)}")
    axes = _reduce_axes(a, len(x))
    if a["keepdim"]:
        return [(tuple(1 if i in axes else n for i, n in enumerate(x)), d[0])]
    return [(tuple(n for i, n in enumerate(x) if i not in axes), d[0])]


def _reduce_ref(fn: str) -> Any:
    def ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
        x = i[0]
        axes = _reduce_axes(a, x.ndim)
        r = getattr(np, fn)(
            x.astype(np.float64) if x.dtype == np.float32 else x, axis=axes, keepdims=bool(a["keepdim"])
        )
        return [np.asarray(r).astype(x.dtype)]

    return ref


for _name, _id, _fn in [("reduce_mean", 63, "mean"), ("reduce_sum", 64, "sum"), ("reduce_max", 65, "max")]:
    _def(
        _name,
        _id,
        ["x"],
        [AttrSpec("axes_mask", "int", 0), AttrSpec("keepdim", "int", 0)],
        _reduce_infer,
        _reduce_ref(_fn),
        doc="Reduce over the axes whose bits are set in axes_mask.",
    )


# -------------------------------------------------------------------------------------- data movement
def _reshape_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    shape = tuple(int(v) for v in a["shape"])
    if math.prod(shape) != math.prod(s[0]):
        raise ValueError(f"cannot reshape {s[0]} to {shape}")
    return [(shape, d[0])]


_def(
    "reshape",
    70,
    ["x"],
    [AttrSpec("shape", "ints", (), stored=False)],
    _reshape_infer,
    lambda i, a: [i[0].reshape(a["shape"])],
    category="view",
    doc="Reshape of a contiguous tensor (view, squeeze, unsqueeze, flatten): an alias, no copy.",
)


def _permute_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    perm = tuple(a["perm"])[: len(s[0])]
    if sorted(perm) != list(range(len(s[0]))):
        raise ValueError(f"permute {perm} is not a permutation of rank {len(s[0])}")
    return [(tuple(s[0][p] for p in perm), d[0])]


_def(
    "permute",
    71,
    ["x"],
    [AttrSpec("perm", "ints", tuple(range(MAX_RANK)), length=MAX_RANK)],
    _permute_infer,
    lambda i, a: [np.ascontiguousarray(np.transpose(i[0], tuple(a["perm"])[: i[0].ndim]))],
)


def _expand_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    shape = tuple(int(v) for v in a["shape"])
    if broadcast_shapes(s[0], shape) != shape:
        raise ValueError(f"cannot expand {s[0]} to {shape}")
    return [(shape, d[0])]


_def(
    "expand",
    72,
    ["x"],
    [AttrSpec("shape", "ints", (), stored=False)],
    _expand_infer,
    lambda i, a: [np.ascontiguousarray(np.broadcast_to(i[0], tuple(a["shape"])))],
)


def _concat_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    ax = norm_axis(a["axis"], len(s[0]))
    for t, dt in zip(s, d):
        if len(t) != len(s[0]) or any(t[i] != s[0][i] for i in range(len(t)) if i != ax) or dt != d[0]:
            raise ValueError(f"concat along axis {ax}: incompatible inputs {s}")
    out = list(s[0])
    out[ax] = sum(t[ax] for t in s)
    return [(tuple(out), d[0])]


_def(
    "concat",
    73,
    ["xs*"],
    [AttrSpec("axis", "int", 0)],
    _concat_infer,
    lambda i, a: [np.concatenate(i, axis=a["axis"])],
)


def _slice_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    ax = norm_axis(a["axis"], len(s[0]))
    st, en, step = a["start"], a["end"], a["step"]
    if step < 1 or not 0 <= st <= en <= s[0][ax]:
        raise ValueError(f"slice [{st}:{en}:{step}] out of range for axis of size {s[0][ax]}")
    out = list(s[0])
    out[ax] = len(range(st, en, step))
    return [(tuple(out), d[0])]


def _slice_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    idx = [slice(None)] * i[0].ndim
    idx[a["axis"]] = slice(a["start"], a["end"], a["step"])
    return [np.ascontiguousarray(i[0][tuple(idx)])]


_def(
    "slice",
    74,
    ["x"],
    [
        AttrSpec("axis", "int", 0),
        AttrSpec("start", "int", 0),
        AttrSpec("end", "int", 0),
        AttrSpec("step", "int", 1),
    ],
    _slice_infer,
    _slice_ref,
    doc="Strided slice along one axis (start/end already clamped, step >= 1); covers select and split.",
)


def _pad_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    pads = tuple(a["pads"])
    if any(p < 0 for p in pads):
        raise ValueError("negative padding is not supported")
    return [(tuple(n + pads[2 * i] + pads[2 * i + 1] for i, n in enumerate(s[0])), d[0])]


def _pad_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    p = a["pads"]
    return [np.pad(i[0], [(p[2 * k], p[2 * k + 1]) for k in range(i[0].ndim)], constant_values=a["value"])]


_def(
    "pad",
    75,
    ["x"],
    [AttrSpec("pads", "ints", (0,) * 2 * MAX_RANK, length=2 * MAX_RANK), AttrSpec("value", "float", 0.0)],
    _pad_infer,
    _pad_ref,
    doc="Constant padding: pads[2k], pads[2k+1] = before/after for axis k.",
)
_def("copy", 76, ["x"], [], same, lambda i, a: [i[0].copy()])


def _cast_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    return [(s[0], DType(a["dtype"]))]


_def(
    "cast",
    77,
    ["x"],
    [AttrSpec("dtype", "int", int(DType.F32))],
    _cast_infer,
    lambda i, a: [i[0].astype(DType(a["dtype"]).to_numpy())],
)


def _embedding_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if len(s[0]) != 2 or d[1] not in (DType.I32, DType.I64):
        raise ValueError(f"embedding expects a 2-D table and integer indices, got {s[0]}, {d[1].short}")
    return [((*s[1], s[0][1]), d[0])]


_def(
    "embedding",
    80,
    ["weight", "indices"],
    [],
    _embedding_infer,
    lambda i, a: [i[0][i[1]]],
    doc="Row gather from a 2-D table (any dtype; also lowers constant advanced indexing); an index out of "
    "range is a run-time error, never a read.",
)


def _sdpa_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    q, k, v = s[:3]
    if len(q) < 2 or len(k) != len(q) or len(v) != len(q) or q[-1] != k[-1] or k[-2] != v[-2]:
        raise ValueError(f"sdpa shapes q={q} k={k} v={v} do not match")
    batch = broadcast_shapes(q[:-2], k[:-2], v[:-2])
    if batch != tuple(q[:-2]):
        raise ValueError("sdpa: k/v batch dims must broadcast to q's")
    if len(s) > 3:
        if broadcast_shapes(s[3], (*batch, q[-2], k[-2])) != (*batch, q[-2], k[-2]):
            raise ValueError(f"sdpa mask {s[3]} does not broadcast to {(*batch, q[-2], k[-2])}")
        if d[3] not in (DType.BOOL, DType.F32):
            raise ValueError("sdpa mask must be bool or float32")
    return [((*batch, q[-2], v[-1]), d[0])]


def _sdpa_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    q, k, v = (t.astype(np.float64) for t in i[:3])
    scale = a["scale"] if a["scale"] else 1.0 / math.sqrt(q.shape[-1])
    sc = (q @ np.swapaxes(k, -1, -2)) * scale
    L, S = q.shape[-2], k.shape[-2]
    if a["is_causal"]:
        sc = np.where(np.tril(np.ones((L, S), bool)), sc, -np.inf)
    if len(i) > 3:
        m = i[3]
        sc = np.where(m, sc, -np.inf) if m.dtype == np.bool_ else sc + m
    mx = sc.max(axis=-1, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, 0.0)
    e = np.exp(sc - mx)
    den = e.sum(axis=-1, keepdims=True)
    p = np.where(den > 0, e / np.where(den > 0, den, 1.0), 0.0)
    return [f32(p @ v)]


_def(
    "sdpa",
    81,
    ["q", "k", "v", "mask?"],
    [AttrSpec("is_causal", "int", 0), AttrSpec("scale", "float", 0.0)],
    _sdpa_infer,
    _sdpa_ref,
    doc="Scaled dot-product attention; mask is bool (keep) or additive float; scale 0 means 1/sqrt(E). "
    "A row whose every score is masked gives zeros.",
)


# ------------------------------------------------------------------------------------ quantization
# Quantized ops (ids 100+). The rounding rules (docs/quantization.md) are shared bit for bit by the
# numpy references here, the C reference kernels (runtime/kernels/ref/quant_*.c) and every fast
# kernel. Activations: int8 asymmetric (scale, zero point). Weights: int8 symmetric per output
# channel, or int4 symmetric per group with float16 scales. Bias: int32.
Q_BIAS_LIMIT = 1 << 30  # int32 bias values are clamped to +-2^30 so the accumulator fits int32
Q_MAX_K = 32768  # longest reduction: 32768 * 255 * 128 + 2^30 < 2^31


def q_saturate(v: np.ndarray, zp: Any, lo: int = -128, hi: int = 127) -> np.ndarray:
    """float32 v -> int8: rint (half to even) in float32, + zero point in float32, NaN -> zero point,
    saturate to [lo, hi]."""
    zp32 = np.asarray(zp, np.float32)
    t = np.rint(np.asarray(v, np.float32)) + zp32
    t = np.where(np.isnan(t), zp32, t)
    return np.clip(t, lo, hi).astype(np.int8)


def q_row_params(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic per-row activation parameters in float32: range [min(0, min x), max(0, max x)],
    scale = (hi - lo) / 255 (1 when that is 0), zero point = saturate(-128 - rint(lo / scale))."""
    x = np.asarray(x, np.float32)
    lo = np.minimum(x.min(axis=-1), np.float32(0))
    hi = np.maximum(x.max(axis=-1), np.float32(0))
    with np.errstate(all="ignore"):
        s = ((hi - lo) / np.float32(255)).astype(np.float32)
        s = np.where(s == 0, np.float32(1), s).astype(np.float32)
        zp = q_saturate(np.float32(0) - np.rint(lo / s), -128).astype(np.int32)
    return s, zp


def q_quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(int8 rows, float32 scales, int32 zero points) of the dynamic per-row quantization."""
    s, zp = q_row_params(x)
    with np.errstate(all="ignore"):
        q = q_saturate(np.asarray(x, np.float32) / s[..., None], zp[..., None])
    return q, s, zp


def _qcheck_attrs(a: Attrs, names: Sequence[str]) -> None:
    for n in names:
        if not -128 <= a[n] <= 127:
            raise ValueError(f"{n}={a[n]} is outside int8")
    if "qmin" in names and a["qmin"] > a["qmax"]:
        raise ValueError(f"qmin {a['qmin']} > qmax {a['qmax']}")


def _qcheck_scale(op: str, a: Attrs) -> None:
    s = float(np.float32(a["scale"]))
    if not (s > 0 and math.isfinite(s)):
        raise ValueError(f"{op}: scale must be positive and finite as float32, got {a['scale']}")


def _quantize_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if d[0] != DType.F32:
        raise ValueError(f"quantize expects a float32 input, got {d[0].short}")
    _qcheck_scale("quantize", a)
    _qcheck_attrs(a, ["zero_point"])
    return [(s[0], DType.I8)]


def _quantize_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    with np.errstate(all="ignore"):
        return [q_saturate(f32(i[0]) / np.float32(a["scale"]), a["zero_point"])]


def _dequantize_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if d[0] != DType.I8:
        raise ValueError(f"dequantize expects an int8 input, got {d[0].short}")
    _qcheck_scale("dequantize", a)
    _qcheck_attrs(a, ["zero_point"])
    return [(s[0], DType.F32)]


def _dequantize_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    return [(i[0].astype(np.int32) - a["zero_point"]).astype(np.float32) * np.float32(a["scale"])]


_QSCALE = (AttrSpec("scale", "float", 1.0), AttrSpec("zero_point", "int", 0))
_def(
    "quantize",
    100,
    ["x"],
    _QSCALE,
    _quantize_infer,
    _quantize_ref,
    category="elementwise",
    doc="float32 -> int8: saturate(rint(x / scale) + zero_point) (docs/quantization.md).",
)
_def(
    "dequantize",
    101,
    ["x"],
    _QSCALE,
    _dequantize_infer,
    _dequantize_ref,
    category="elementwise",
    doc="int8 -> float32: (q - zero_point) * scale.",
)

_QIO = (
    AttrSpec("x_zp", "int", 0),
    AttrSpec("y_zp", "int", 0),
    AttrSpec("qmin", "int", -128),
    AttrSpec("qmax", "int", 127),
)


def q_requantize(acc: np.ndarray, bias: np.ndarray, scale: np.ndarray, a: Attrs, axis: int) -> np.ndarray:
    """Exact integer acc + clamped int32 bias -> float32 * scale[c] -> rint -> + y_zp -> [qmin, qmax]."""
    sh = [1] * acc.ndim
    sh[axis] = -1
    b = np.clip(bias.astype(np.int64), -Q_BIAS_LIMIT, Q_BIAS_LIMIT).reshape(sh)
    tot = (acc.astype(np.int64) + b).astype(np.int32)  # fits: see Q_MAX_K
    v = tot.astype(np.float32) * np.asarray(scale, np.float32).reshape(sh)
    return q_saturate(v, a["y_zp"], a["qmin"], a["qmax"])


def _qconv2d_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if list(d) != [DType.I8, DType.I8, DType.I32, DType.F32]:
        raise ValueError(f"qconv2d expects (i8, i8, i32, f32) inputs, got {[t.short for t in d]}")
    _qcheck_attrs(a, ["x_zp", "y_zp", "qmin", "qmax"])
    w = s[1]
    ((shape, _),) = _conv2d_infer(s[:3], [DType.F32] * 3, a)
    if s[3] != (w[0],):
        raise ValueError(f"qconv2d scale shape {s[3]} != ({w[0]},)")
    if w[1] * w[2] * w[3] > Q_MAX_K:
        raise ValueError(f"qconv2d reduction length {w[1] * w[2] * w[3]} > {Q_MAX_K}")
    return [(shape, DType.I8)]


def _conv2d_acc(x: np.ndarray, w: np.ndarray, a: Attrs) -> np.ndarray:
    """Zero-padded conv2d sums in float64 (exact for the integer operands of qconv2d)."""
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    g = a["groups"]
    sh, sw, ph, pw, dh, dw = a["stride_h"], a["stride_w"], a["pad_h"], a["pad_w"], a["dil_h"], a["dil_w"]
    (_, _, oh, ow), _ = _conv2d_infer([x.shape, w.shape], [DType.F32] * 2, a)[0]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((n, o, oh, ow))
    og = o // g
    for gi in range(g):
        xs = xp[:, gi * cg : (gi + 1) * cg]
        ws = w[gi * og : (gi + 1) * og]
        for ky in range(kh):
            for kx in range(kw):
                patch = xs[
                    :,
                    :,
                    ky * dh : ky * dh + sh * (oh - 1) + 1 : sh,
                    kx * dw : kx * dw + sw * (ow - 1) + 1 : sw,
                ]
                out[:, gi * og : (gi + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, ky, kx])
    return out


def _qconv2d_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    acc = _conv2d_acc(i[0].astype(np.float64) - a["x_zp"], i[1].astype(np.float64), a)
    return [q_requantize(acc.astype(np.int64), i[2], i[3], a, 1)]


def _qlinear_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if list(d) != [DType.I8, DType.I8, DType.I32, DType.F32]:
        raise ValueError(f"qlinear expects (i8, i8, i32, f32) inputs, got {[t.short for t in d]}")
    _qcheck_attrs(a, ["x_zp", "y_zp", "qmin", "qmax"])
    ((shape, _),) = _linear_infer(s[:3], [DType.F32] * 3, a)
    if s[3] != (s[1][0],):
        raise ValueError(f"qlinear scale shape {s[3]} != ({s[1][0]},)")
    if s[1][1] > Q_MAX_K:
        raise ValueError(f"qlinear reduction length {s[1][1]} > {Q_MAX_K}")
    return [(shape, DType.I8)]


def _qlinear_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    acc = (i[0].astype(np.int64) - a["x_zp"]) @ i[1].astype(np.int64).T
    return [q_requantize(acc, i[2], i[3], a, -1)]


_def(
    "qconv2d",
    102,
    ["x", "weight", "bias", "scale"],
    [*CONV_GEOMETRY, *_QIO],
    _qconv2d_infer,
    _qconv2d_ref,
    doc="int8 conv2d (int8 x with zero point x_zp, per-output-channel int8 weight, int32 bias); "
    "requantized by scale[o] = x_scale * w_scale[o] / y_scale, clamped to [qmin, qmax] (fused activation).",
)
_def(
    "qlinear",
    103,
    ["x", "weight", "bias", "scale"],
    _QIO,
    _qlinear_infer,
    _qlinear_ref,
    doc="int8 linear, static activation parameters; requantization and clamp as qconv2d.",
)


def _qdw_nhwc_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if list(d) != [DType.I8, DType.I8, DType.I32, DType.F32]:
        raise ValueError(f"qdwconv2d_nhwc expects (i8, i8, i32, f32) inputs, got {[t.short for t in d]}")
    _qcheck_attrs(a, ["x_zp", "y_zp", "qmin", "qmax"])
    ((shape, _),) = _dwconv2d_nhwc_infer(s[:3], [DType.F32] * 3, a)
    if s[3] != (s[0][3],):
        raise ValueError(f"qdwconv2d_nhwc scale shape {s[3]} != ({s[0][3]},)")
    return [(shape, DType.I8)]


def _qdw_nhwc_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x, w = i[0].astype(np.float64) - a["x_zp"], i[1].astype(np.float64)  # padding: zero after the shift
    kh, kw, c = w.shape
    cols = _im2col_nhwc(x, kh, kw, a).reshape(x.shape[0], -1, kh * kw, c)
    ((shape, _),) = _dwconv2d_nhwc_infer([x.shape, w.shape], [DType.F32] * 2, a)
    acc = (cols * w.reshape(kh * kw, c)).sum(axis=-2).reshape(shape)  # exact: integers below 2^53
    return [q_requantize(acc.astype(np.int64), i[2], i[3], a, -1)]


_def(
    "qdwconv2d_nhwc",
    9,
    ["x", "weight", "bias", "scale"],
    [*NHWC_CONV_GEOMETRY, *_QIO],
    _qdw_nhwc_infer,
    _qdw_nhwc_ref,
    doc="int8 depthwise conv2d on an NHWC input, weight [KH, KW, C]; arithmetic and requantization as "
    "qconv2d (made from a depthwise qconv2d by the layout pass).",
)


def _qconv_nhwc_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if list(d) != [DType.I8, DType.I8, DType.I32, DType.F32]:
        raise ValueError(f"qconv2d_nhwc expects (i8, i8, i32, f32) inputs, got {[t.short for t in d]}")
    _qcheck_attrs(a, ["x_zp", "y_zp", "qmin", "qmax"])
    x, w = s[0], s[1]
    if len(x) != 4 or len(w) != 4 or w[3] != x[3]:
        raise ValueError(f"qconv2d_nhwc expects an NHWC input and an [O, KH, KW, C] weight, got {x} and {w}")
    if s[2] != (w[0],) or s[3] != (w[0],):
        raise ValueError(f"qconv2d_nhwc bias {s[2]} and scale {s[3]} must be ({w[0]},)")
    if w[1] * w[2] * w[3] > Q_MAX_K:
        raise ValueError(f"qconv2d_nhwc reduction length {w[1] * w[2] * w[3]} > {Q_MAX_K}")
    oh, ow = _nhwc_out(x, w[1], w[2], a, "qconv2d_nhwc")
    return [((x[0], oh, ow, w[0]), DType.I8)]


def _qconv_nhwc_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    w = i[1].astype(np.int64)
    cols = _im2col_nhwc(
        i[0].astype(np.int64) - a["x_zp"], w.shape[1], w.shape[2], a
    )  # padding: 0 after the shift
    acc = cols @ w.reshape(w.shape[0], -1).T
    return [q_requantize(acc, i[2], i[3], a, -1)]


_def(
    "qconv2d_nhwc",
    109,
    ["x", "weight", "bias", "scale"],
    [*NHWC_CONV_GEOMETRY, *_QIO],
    _qconv_nhwc_infer,
    _qconv_nhwc_ref,
    doc="int8 conv2d (groups 1) on an NHWC input, weight [O, KH, KW, C]; arithmetic and requantization as "
    "qconv2d (made from a qconv2d by the layout pass).",
)


def _dqlinear_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    want = [DType.F32, DType.I8, DType.F32, DType.F32][: len(d)]
    if list(d) != want:
        raise ValueError(f"dqlinear expects (f32, i8, f32[, f32]) inputs, got {[t.short for t in d]}")
    ((shape, _),) = _linear_infer([s[0], s[1], *s[3:]], [DType.F32] * (len(s) - 1), a)
    if s[2] != (s[1][0],):
        raise ValueError(f"dqlinear weight scale shape {s[2]} != ({s[1][0]},)")
    if s[1][1] > Q_MAX_K:
        raise ValueError(f"dqlinear reduction length {s[1][1]} > {Q_MAX_K}")
    return [(shape, DType.F32)]


def _dqlinear_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x, w, ws = f32(i[0]), i[1], f32(i[2])
    q, xs, zp = q_quantize_rows(x.reshape(-1, x.shape[-1]))
    acc = (q.astype(np.int64) - zp[:, None].astype(np.int64)) @ w.astype(np.int64).T
    y = acc.astype(np.int32).astype(np.float32) * (xs[:, None] * ws[None, :])
    if len(i) > 3:
        y = y + f32(i[3])
    return [apply_act(y, a["act"], a["act_min"], a["act_max"]).reshape(*x.shape[:-1], w.shape[0])]


_def(
    "dqlinear",
    104,
    ["x", "weight", "weight_scale", "bias?"],
    EPILOGUE,
    _dqlinear_infer,
    _dqlinear_ref,
    doc="Dynamic int8 linear: each row of float32 x is quantized at run time (asymmetric int8), "
    "weights int8 per output channel; y = float(acc) * (x_scale * w_scale[n]) + bias, fused activation.",
)


def q4_unpack(packed: np.ndarray) -> np.ndarray:
    """uint8 [..., K/2] -> int4 values in int8 [..., K]: low nibble first, two's complement."""
    lo = (packed & 0x0F).astype(np.int8)
    hi = (packed >> 4).astype(np.int8)
    v = np.stack([lo, hi], axis=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)
    return np.where(v >= 8, v - 16, v).astype(np.int8)


def q4_pack(q: np.ndarray) -> np.ndarray:
    """int values in [-8, 7], [..., K] (K even) -> uint8 [..., K/2], low nibble = even index."""
    u = (np.asarray(q).astype(np.int16) & 0x0F).astype(np.uint8)
    return np.ascontiguousarray(u[..., 0::2] | (u[..., 1::2] << 4))


def _q4_check(op: str, w: Shape, sc: Shape, gs: int, dw: DType, ds: DType) -> int:
    if dw != DType.U8 or ds != DType.F16 or len(w) != 2 or len(sc) != 2:
        raise ValueError(f"{op} expects a 2-D uint8 packed weight and 2-D float16 scales")
    k = 2 * w[1]
    if gs < 2 or gs % 2 or k % gs or sc != (w[0], k // gs):
        raise ValueError(f"{op}: group size {gs}, packed weight {w}, scales {sc} do not match")
    return k


def _q4linear_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if d[0] != DType.F32 or (len(d) > 3 and d[3] != DType.F32):
        raise ValueError("q4linear expects float32 x and bias")
    k = _q4_check("q4linear", s[1], s[2], a["group_size"], d[1], d[2])
    if len(s[0]) < 1 or s[0][-1] != k:
        raise ValueError(f"q4linear: input {s[0]} does not match K={k}")
    if k > Q_MAX_K:
        raise ValueError(f"q4linear reduction length {k} > {Q_MAX_K}")
    if len(s) > 3 and s[3] != (s[1][0],):
        raise ValueError(f"q4linear bias shape {s[3]} != ({s[1][0]},)")
    return [((*s[0][:-1], s[1][0]), DType.F32)]


def _q4linear_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    x, gs = f32(i[0]), a["group_size"]
    w = q4_unpack(i[1]).astype(np.int64)  # [N, K]
    n, k = w.shape
    sc = i[2].astype(np.float32)  # [N, G]
    q, xs, zp = q_quantize_rows(x.reshape(-1, k))
    xq = q.astype(np.int64) - zp[:, None]
    acc = np.zeros((xq.shape[0], n), np.float32)
    for g in range(k // gs):
        part = (xq[:, g * gs : (g + 1) * gs] @ w[:, g * gs : (g + 1) * gs].T).astype(np.int32)
        acc = acc + part.astype(np.float32) * sc[None, :, g]
    y = acc * xs[:, None]
    if len(i) > 3:
        y = y + f32(i[3])
    return [apply_act(y, a["act"], a["act_min"], a["act_max"]).reshape(*x.shape[:-1], n)]


_def(
    "q4linear",
    105,
    ["x", "weight", "scales", "bias?"],
    [AttrSpec("group_size", "int", 32), *EPILOGUE],
    _q4linear_infer,
    _q4linear_ref,
    doc="int4 weight-only linear: weight [N, K/2] two int4 per byte (low nibble first), float16 scale "
    "per group of group_size along K; x rows quantized at run time to int8 as in dqlinear; per group "
    "acc += float(isum) * scale, y = acc * x_scale + bias, fused activation.",
)


def _q4embedding_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    k = _q4_check("q4embedding", s[0], s[1], a["group_size"], d[0], d[1])
    if d[2] not in (DType.I32, DType.I64):
        raise ValueError(f"q4embedding indices must be int32 or int64, got {d[2].short}")
    return [((*s[2], k), DType.F32)]


def _q4embedding_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    rows = q4_unpack(i[0][i[2]]).astype(np.float32)
    sc = np.repeat(i[1][i[2]].astype(np.float32), a["group_size"], axis=-1)
    return [rows * sc]


_def(
    "q4embedding",
    106,
    ["weight", "scales", "indices"],
    [AttrSpec("group_size", "int", 32)],
    _q4embedding_infer,
    _q4embedding_ref,
    doc="int4 group-wise embedding lookup: row = int4 value * float16 group scale (float32 product).",
)


def _q8embedding_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if d[0] != DType.I8 or d[1] != DType.F32 or len(s[0]) != 2 or s[1] != (s[0][0],):
        raise ValueError(f"q8embedding expects an int8 table [V, D] and float32 scales [V], got {s[:2]}")
    if d[2] not in (DType.I32, DType.I64):
        raise ValueError(f"q8embedding indices must be int32 or int64, got {d[2].short}")
    return [((*s[2], s[0][1]), DType.F32)]


_def(
    "q8embedding",
    107,
    ["weight", "scales", "indices"],
    [],
    _q8embedding_infer,
    lambda i, a: [i[0][i[2]].astype(np.float32) * f32(i[1])[i[2]][..., None]],
    doc="int8 embedding lookup, one float32 scale per row: row = float(q) * scale[row].",
)


def _qadd_infer(s: list[Shape], d: list[DType], a: Attrs) -> list[tuple[Shape, DType]]:
    if d[0] != DType.I8 or d[1] != DType.I8 or s[0] != s[1]:
        raise ValueError(f"qadd expects two int8 tensors of one shape, got {s[0]} and {s[1]}")
    _qcheck_attrs(a, ["a_zp", "b_zp", "y_zp", "qmin", "qmax"])
    for n in ("a_mult", "b_mult"):
        m = float(np.float32(a[n]))
        if not (m > 0 and math.isfinite(m)):
            raise ValueError(f"qadd: {n} must be positive and finite, got {a[n]}")
    return [(s[0], DType.I8)]


def _qadd_ref(i: list[np.ndarray], a: Attrs) -> list[np.ndarray]:
    va = (i[0].astype(np.int32) - a["a_zp"]).astype(np.float32) * np.float32(a["a_mult"])
    vb = (i[1].astype(np.int32) - a["b_zp"]).astype(np.float32) * np.float32(a["b_mult"])
    return [q_saturate(va + vb, a["y_zp"], a["qmin"], a["qmax"])]


_def(
    "qadd",
    108,
    ["a", "b"],
    [
        AttrSpec("a_zp", "int", 0),
        AttrSpec("b_zp", "int", 0),
        AttrSpec("y_zp", "int", 0),
        AttrSpec("a_mult", "float", 1.0),
        AttrSpec("b_mult", "float", 1.0),
        AttrSpec("qmin", "int", -128),
        AttrSpec("qmax", "int", 127),
    ],
    _qadd_infer,
    _qadd_ref,
    category="elementwise",
    doc="int8 add of same-shape tensors: saturate(float(a - a_zp) * a_mult + float(b - b_zp) * b_mult, y_zp) "
    "with a_mult = a_scale / y_scale, b_mult = b_scale / y_scale; clamp [qmin, qmax] (fused activation).",
)


def infer(op: OpDef, shapes: list[Shape], dtypes: list[DType], attrs: Attrs) -> list[tuple[Shape, DType]]:
    n = len(shapes)
    if not op.min_inputs <= n <= op.max_inputs:
        raise ValueError(f"op {op.name} takes {op.min_inputs}..{op.max_inputs} inputs, got {n}")
    return op.infer([tuple(s) for s in shapes], list(dtypes), op.full_attrs(attrs))


def reference(op: OpDef, inputs: list[np.ndarray], attrs: Attrs) -> list[np.ndarray]:
    """Run the numpy reference of `op` (used for constant folding and as a test oracle)."""
    return op.ref(list(inputs), op.full_attrs(attrs))


def encode_attrs(op: OpDef, attrs: Attrs) -> list[int]:
    """The attribute slots of a node as stored in the file (ints; floats as IEEE double bits)."""
    full = op.full_attrs(attrs)
    slots: list[int] = []
    for spec in op.stored_attrs:
        v = full[spec.name]
        if spec.kind == "int":
            slots.append(int(v))
        elif spec.kind == "float":
            slots.append(int(np.array(float(v), np.float64).view(np.int64)))
        else:
            vals = [int(t) for t in v]
            if len(vals) > spec.length:
                raise ValueError(f"{op.name}.{spec.name} has {len(vals)} values, at most {spec.length}")
            default = list(spec.default) if spec.default else []
            vals = vals + default[len(vals) :] + [0] * (spec.length - max(len(vals), len(default)))
            slots.extend(vals[: spec.length])
    assert len(slots) == op.n_slots
    return slots


def decode_attrs(op: OpDef, slots: Sequence[int]) -> Attrs:
    out: Attrs = {}
    pos = 0
    for spec in op.stored_attrs:
        if spec.kind == "int":
            out[spec.name] = int(slots[pos])
            pos += 1
        elif spec.kind == "float":
            out[spec.name] = float(np.array(slots[pos], np.int64).view(np.float64))
            pos += 1
        else:
            out[spec.name] = tuple(int(v) for v in slots[pos : pos + spec.length])
            pos += spec.length
    return out


def ops_markdown() -> str:
    rows = ["| id | op | inputs | attributes | notes |", "|---:|---|---|---|---|"]
    for op in sorted(OPS.values(), key=lambda o: o.id):
        attrs = ", ".join(a.name for a in op.attrs) or "-"
        rows.append(f"| {op.id} | {op.name} | {', '.join(op.inputs)} | {attrs} | {op.doc} |")
    return "\n".join(rows)
