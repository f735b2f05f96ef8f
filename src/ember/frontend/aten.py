"""torch.export (core ATen) → Ember IR. The one place that maps aten ops to Ember ops.

Each handler takes the lowering context and the FX node's (already lowered) arguments and returns
Ember Values. An aten op without a handler fails here, at export, with UnsupportedOpError.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ember.ir.dtypes import DType
from ember.ir.graph import Graph, Value
from ember.ir.ops import MAX_RANK

Handler = Callable[["Lowering", tuple[Any, ...], dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for n in names:
            HANDLERS[n] = fn
        return fn

    return deco


class Lowering:
    """State while lowering one FX graph: the Ember graph being built and the current source line."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.source = ""
        self.name = ""
        self.source_op = ""

    def emit(self, op: str, inputs: list[Value], attrs: dict[str, Any] | None = None) -> Value:
        outs = self.g.add_node(op, inputs, attrs, name=self.name or op, source=self.source)
        return outs[0]

    def scalar(self, value: float | int | bool, like: Value) -> Value:
        return self.g.const(np.asarray(value, dtype=like.dtype.to_numpy()), name="scalar")

    def as_value(self, x: Any, like: Value) -> Value:
        if isinstance(x, Value):
            return x
        return self.scalar(x, like)

    def promote(self, a: Any, b: Any) -> tuple[Value, Value]:
        """Type promotion for binary ops (float wins over int; python scalars take the tensor's type)."""
        if not isinstance(a, Value) and not isinstance(b, Value):
            raise TypeError("binary op on two scalars should have been folded")
        if not isinstance(a, Value):
            if isinstance(a, float) and b.dtype != DType.F32:
                b = self.cast(b, DType.F32)
            return self.scalar(a, b), b
        if not isinstance(b, Value):
            if isinstance(b, float) and a.dtype != DType.F32:
                a = self.cast(a, DType.F32)
            return a, self.scalar(b, a)
        if a.dtype != b.dtype:
            order = [DType.BOOL, DType.I32, DType.I64, DType.F32]
            target = max(a.dtype, b.dtype, key=order.index)
            a, b = self.cast(a, target), self.cast(b, target)
        return a, b

    def cast(self, x: Value, dtype: DType) -> Value:
        if x.dtype == dtype:
            return x
        if x.is_const:
            assert x.data is not None
            return self.g.const(x.data.astype(dtype.to_numpy()), name=x.name)
        return self.emit("cast", [x], {"dtype": int(dtype)})

    def reshape(self, x: Value, shape: tuple[int, ...]) -> Value:
        if tuple(shape) == x.shape:
            return x
        return self.emit("reshape", [x], {"shape": tuple(shape)})


def _shape_arg(shape: Any, numel: int) -> tuple[int, ...]:
    dims = [int(d) for d in shape]
    if dims.count(-1) == 1:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = numel // known if known else 0
    return tuple(dims)


def _axis(dim: int, rank: int) -> int:
    return dim % rank if rank else 0


# ------------------------------------------------------------------------------------ compute ops
@handles("aten.convolution.default")
def _convolution(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, w, b, stride, padding, dilation, transposed, _out_pad, groups = a
    if transposed:
        raise NotImplementedError("transposed convolution")
    if len(x.shape) != 4:
        raise NotImplementedError(f"{len(x.shape) - 2}-D convolution (only 2-D is supported)")
    attrs = {
        "stride_h": stride[0],
        "stride_w": stride[1],
        "pad_h": padding[0],
        "pad_w": padding[1],
        "dil_h": dilation[0],
        "dil_w": dilation[1],
        "groups": groups,
    }
    return lw.emit("conv2d", [x, w] + ([b] if b is not None else []), attrs)


@handles("aten.linear.default")
def _linear(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, w = a[0], a[1]
    b = a[2] if len(a) > 2 else kw.get("bias")
    return lw.emit("linear", [x, w] + ([b] if b is not None else []))


def _matmul_or_linear(lw: Lowering, x: Value, m: Value, bias: Value | None = None) -> Value:
    if m.is_const and len(m.shape) == 2:
        assert m.data is not None
        wt = lw.g.const(np.ascontiguousarray(m.data.T), name=m.name + "_t")
        return lw.emit("linear", [x, wt] + ([bias] if bias is not None else []))
    y = lw.emit("matmul", [x, m])
    return lw.emit("add", [y, bias]) if bias is not None else y


@handles("aten.addmm.default")
def _addmm(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    bias, x, m = a[:3]
    if kw.get("beta", 1) != 1 or kw.get("alpha", 1) != 1:
        raise NotImplementedError("addmm with beta/alpha != 1")
    return _matmul_or_linear(lw, x, m, bias)


@handles("aten.mm.default", "aten.bmm.default", "aten.matmul.default")
def _mm(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, m = a
    if len(x.shape) == 1 or len(m.shape) == 1:
        raise NotImplementedError("matmul with a 1-D operand")
    return _matmul_or_linear(lw, x, m)


# ------------------------------------------------------------------------------------ elementwise
def _binary(op: str) -> Handler:
    def h(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
        x, y = a[0], a[1]
        alpha = kw.get("alpha", a[2] if len(a) > 2 else 1)
        if alpha != 1:
            y = y * alpha if not isinstance(y, Value) else lw.emit("mul", list(lw.promote(y, alpha)))
        x, y = lw.promote(x, y)
        if op == "div" and x.dtype != DType.F32:
            mode = kw.get("rounding_mode")
            if mode is None:
                x, y = lw.cast(x, DType.F32), lw.cast(y, DType.F32)
            elif mode != "trunc":
                raise NotImplementedError(f"integer division with rounding_mode={mode}")
        return lw.emit(op, [x, y])

    return h


for _aten, _op in [
    ("add", "add"),
    ("sub", "sub"),
    ("mul", "mul"),
    ("div", "div"),
    ("maximum", "maximum"),
    ("minimum", "minimum"),
]:
    for _ov in ("Tensor", "Scalar", "default", "Tensor_mode"):
        HANDLERS[f"aten.{_aten}.{_ov}"] = _binary(_op)


@handles("aten.rsub.Scalar", "aten.rsub.Tensor")
def _rsub(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, y = lw.promote(a[1], a[0])
    return lw.emit("sub", [x, y])


@handles("aten.pow.Tensor_Scalar", "aten.pow.Tensor_Tensor", "aten.pow.Scalar")
def _pow(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, e = a
    if isinstance(x, Value) and x.dtype != DType.F32:
        x = lw.cast(x, DType.F32)
    if not isinstance(e, Value):
        if e == 1:
            return x
        if e == 2:
            return lw.emit("mul", [x, x])
        if e == 0.5:
            return lw.emit("sqrt", [x])
        if e == -0.5:
            return lw.emit("rsqrt", [x])
    x, e = lw.promote(x, e)
    return lw.emit("pow", [x, e])


for _cmp in ("eq", "ne", "lt", "le", "gt", "ge"):

    def _mk(op: str) -> Handler:
        def h(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
            return lw.emit(op, list(lw.promote(a[0], a[1])))

        return h

    HANDLERS[f"aten.{_cmp}.Tensor"] = HANDLERS[f"aten.{_cmp}.Scalar"] = _mk(_cmp)


@handles("aten.logical_and.default", "aten.bitwise_and.Tensor")
def _land(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return lw.emit("logical_and", [lw.cast(a[0], DType.BOOL), lw.cast(a[1], DType.BOOL)])


@handles("aten.logical_or.default", "aten.bitwise_or.Tensor")
def _lor(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return lw.emit("logical_or", [lw.cast(a[0], DType.BOOL), lw.cast(a[1], DType.BOOL)])


@handles("aten.logical_not.default", "aten.bitwise_not.default")
def _lnot(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    if a[0].dtype != DType.BOOL:
        raise NotImplementedError("bitwise_not on integers")
    return lw.emit("logical_not", [a[0]])


@handles("aten.where.self", "aten.where.ScalarOther", "aten.where.ScalarSelf", "aten.where.Scalar")
def _where(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    cond, x, y = a
    like = x if isinstance(x, Value) else y
    x, y = lw.promote(lw.as_value(x, like), lw.as_value(y, like))
    return lw.emit("where", [lw.cast(cond, DType.BOOL), x, y])


@handles("aten.masked_fill.Scalar", "aten.masked_fill.Tensor")
def _masked_fill(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, mask, value = a
    v = value if isinstance(value, Value) else lw.scalar(value, x)
    return lw.emit("where", [lw.cast(mask, DType.BOOL), lw.cast(v, x.dtype), x])


_UNARY = [
    "relu",
    "sigmoid",
    "tanh",
    "silu",
    "hardswish",
    "hardsigmoid",
    "sqrt",
    "rsqrt",
    "exp",
    "log",
    "neg",
    "abs",
    "sin",
    "cos",
    "erf",
    "reciprocal",
]
for _u in _UNARY:

    def _mku(op: str) -> Handler:
        def h(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
            x = a[0]
            if x.dtype != DType.F32:
                if op in ("neg", "abs") and x.dtype in (DType.I32, DType.I64):
                    raise NotImplementedError(f"{op} on integers")
                x = lw.cast(x, DType.F32)
            return lw.emit(op, [x])

        return h

    HANDLERS[f"aten.{_u}.default"] = _mku(_u)


@handles("aten.gelu.default")
def _gelu(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    approx = kw.get("approximate", a[1] if len(a) > 1 else "none")
    return lw.emit("gelu", [a[0]], {"approximate": 1 if approx == "tanh" else 0})


def _clamp_factory(kind: str) -> Handler:
    def h(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
        x = a[0]
        lo, hi = -math.inf, math.inf
        if kind == "hardtanh":
            lo, hi = (a[1] if len(a) > 1 else -1.0), (a[2] if len(a) > 2 else 1.0)
        elif kind == "relu6":
            lo, hi = 0.0, 6.0
        elif kind == "clamp":
            lo = a[1] if len(a) > 1 and a[1] is not None else kw.get("min")
            hi = a[2] if len(a) > 2 and a[2] is not None else kw.get("max")
            lo = -math.inf if lo is None else lo
            hi = math.inf if hi is None else hi
        elif kind == "clamp_min":
            lo = a[1]
        elif kind == "clamp_max":
            hi = a[1]
        if isinstance(lo, Value) or isinstance(hi, Value):
            raise NotImplementedError("clamp with tensor bounds")
        if x.dtype != DType.F32:
            raise NotImplementedError("clamp on integer tensors")
        return lw.emit("clamp", [x], {"min": float(lo), "max": float(hi)})

    return h


for _k in ("hardtanh", "clamp", "clamp_min", "clamp_max", "relu6"):
    HANDLERS[f"aten.{_k}.default"] = _clamp_factory(_k)


# ---------------------------------------------------------------------------------- normalization
@handles("aten._softmax.default", "aten.softmax.int")
def _softmax(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return lw.emit("softmax", [a[0]], {"axis": _axis(a[1], len(a[0].shape))})


@handles("aten._log_softmax.default", "aten.log_softmax.int")
def _log_softmax(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return lw.emit("log_softmax", [a[0]], {"axis": _axis(a[1], len(a[0].shape))})


@handles("aten.layer_norm.default", "aten.native_layer_norm.default")
def _layer_norm(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    x, shape = a[0], a[1]
    w = a[2] if len(a) > 2 else kw.get("weight")
    b = a[3] if len(a) > 3 else kw.get("bias")
    eps = a[4] if len(a) > 4 else kw.get("eps", 1e-5)
    if w is None and b is not None:
        w = lw.g.const(np.ones(tuple(shape), np.float32), "ln_ones")
    ins = [x] + ([w] if w is not None else []) + ([b] if b is not None else [])
    y = lw.emit("layer_norm", ins, {"n_axes": len(shape), "eps": float(eps)})
    return (y, None, None) if lw.source_op == "aten.native_layer_norm.default" else y


@handles("aten.rms_norm.default")
def _rms_norm(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, shape = a[0], a[1]
    w = a[2] if len(a) > 2 else kw.get("weight")
    eps = a[3] if len(a) > 3 else kw.get("eps")
    if eps is None:
        eps = float(np.finfo(np.float32).eps)
    return lw.emit(
        "rms_norm", [x] + ([w] if w is not None else []), {"n_axes": len(shape), "eps": float(eps)}
    )


@handles("aten._native_batch_norm_legit_no_training.default")
def _batch_norm(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> tuple[Value, None, None]:
    x, w, b, mean, var, _momentum, eps = a
    c = x.shape[1]
    w = w if w is not None else lw.g.const(np.ones(c, np.float32), "bn_w")
    b = b if b is not None else lw.g.const(np.zeros(c, np.float32), "bn_b")
    return (lw.emit("batch_norm", [x, mean, var, w, b], {"eps": float(eps)}), None, None)


# ------------------------------------------------------------------------------------------ pooling
def _pair(v: Any, default: int | None = None) -> tuple[int, int]:
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        assert default is not None
        return default, default
    if isinstance(v, int):
        return v, v
    return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))


@handles("aten.max_pool2d_with_indices.default", "aten.max_pool2d.default")
def _max_pool(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    x = a[0]
    k = _pair(a[1])
    s = _pair(a[2] if len(a) > 2 else None, None) if len(a) > 2 and a[2] else k
    p = _pair(a[3] if len(a) > 3 else 0)
    d = _pair(a[4] if len(a) > 4 else 1)
    ceil = bool(a[5]) if len(a) > 5 else False
    y = lw.emit(
        "max_pool2d",
        [x],
        {
            "kernel_h": k[0],
            "kernel_w": k[1],
            "stride_h": s[0],
            "stride_w": s[1],
            "pad_h": p[0],
            "pad_w": p[1],
            "dil_h": d[0],
            "dil_w": d[1],
            "ceil_mode": int(ceil),
        },
    )
    return (y, None) if "with_indices" in lw.source_op else y


@handles("aten.avg_pool2d.default")
def _avg_pool(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = a[0]
    k = _pair(a[1])
    s = _pair(a[2]) if len(a) > 2 and a[2] else k
    p = _pair(a[3] if len(a) > 3 else 0)
    ceil = bool(a[4]) if len(a) > 4 else False
    cip = bool(a[5]) if len(a) > 5 else True
    div = a[6] if len(a) > 6 and a[6] is not None else 0
    return lw.emit(
        "avg_pool2d",
        [x],
        {
            "kernel_h": k[0],
            "kernel_w": k[1],
            "stride_h": s[0],
            "stride_w": s[1],
            "pad_h": p[0],
            "pad_w": p[1],
            "ceil_mode": int(ceil),
            "count_include_pad": int(cip),
            "divisor": int(div),
        },
    )


@handles("aten._adaptive_avg_pool2d.default", "aten.adaptive_avg_pool2d.default")
def _adaptive(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    oh, ow = _pair(a[1])
    return lw.emit("adaptive_avg_pool2d", [a[0]], {"out_h": oh, "out_w": ow})


# ------------------------------------------------------------------------------------------ reduce
def _reduce(op: str) -> Handler:
    def h(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
        x = a[0]
        dims = a[1] if len(a) > 1 and a[1] is not None else kw.get("dim")
        keep = a[2] if len(a) > 2 else kw.get("keepdim", False)
        rank = len(x.shape)
        if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
            dims = list(range(rank))
        if isinstance(dims, int):
            dims = [dims]
        mask = 0
        for d in dims:
            mask |= 1 << _axis(d, rank)
        if op == "reduce_mean" and x.dtype != DType.F32:
            x = lw.cast(x, DType.F32)
        return lw.emit(op, [x], {"axes_mask": mask, "keepdim": int(bool(keep))})

    return h


for _n, _op in [
    ("mean.dim", "reduce_mean"),
    ("mean.default", "reduce_mean"),
    ("sum.dim_IntList", "reduce_sum"),
    ("sum.default", "reduce_sum"),
    ("amax.default", "reduce_max"),
]:
    HANDLERS[f"aten.{_n}"] = _reduce(_op)


# ------------------------------------------------------------------------------------ data movement
@handles("aten.view.default", "aten._unsafe_view.default", "aten.reshape.default")
def _view(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return lw.reshape(a[0], _shape_arg(a[1], a[0].numel))


@handles("aten.flatten.using_ints")
def _flatten(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = a[0]
    r = len(x.shape)
    s = _axis(a[1] if len(a) > 1 else 0, r)
    e = _axis(a[2] if len(a) > 2 else -1, r)
    shape = x.shape[:s] + (math.prod(x.shape[s : e + 1]),) + x.shape[e + 1 :]
    return lw.reshape(x, shape)


@handles("aten.squeeze.dims", "aten.squeeze.dim", "aten.squeeze.default")
def _squeeze(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = a[0]
    r = len(x.shape)
    dims = a[1] if len(a) > 1 else list(range(r))
    dims = {_axis(d, r) for d in ([dims] if isinstance(dims, int) else dims)}
    return lw.reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


@handles("aten.unsqueeze.default")
def _unsqueeze(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, d = a
    d = d % (len(x.shape) + 1)
    return lw.reshape(x, x.shape[:d] + (1,) + x.shape[d:])


@handles("aten.permute.default")
def _permute(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = a[0]
    perm = tuple(_axis(p, len(x.shape)) for p in a[1])
    if perm == tuple(range(len(perm))):
        return x
    return lw.emit("permute", [x], {"perm": perm})


@handles("aten.transpose.int")
def _transpose(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = a[0]
    r = len(x.shape)
    perm = list(range(r))
    i, j = _axis(a[1], r), _axis(a[2], r)
    perm[i], perm[j] = perm[j], perm[i]
    return _permute(lw, (x, perm), {})


@handles("aten.t.default", "aten.numpy_T.default")
def _t(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = a[0]
    return x if len(x.shape) < 2 else _permute(lw, (x, list(range(len(x.shape)))[::-1]), {})


@handles("aten.expand.default")
def _expand(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, sizes = a[0], list(a[1])
    lead = len(sizes) - len(x.shape)
    shape = tuple(int(x.shape[i - lead]) if s == -1 else int(s) for i, s in enumerate(sizes))
    if shape == x.shape:
        return x
    return lw.emit("expand", [x], {"shape": shape})


@handles("aten.cat.default", "aten.concat.default")
def _cat(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    xs = [x for x in a[0] if x.numel > 0]
    dim = a[1] if len(a) > 1 else kw.get("dim", 0)
    if len(xs) == 1:
        return xs[0]
    dt = xs[0].dtype
    xs = [lw.cast(x, dt) for x in xs]
    return lw.emit("concat", xs, {"axis": _axis(dim, len(xs[0].shape))})


def _slice_value(lw: Lowering, x: Value, dim: int, start: int | None, end: int | None, step: int) -> Value:
    r = len(x.shape)
    ax = _axis(dim, r)
    st, en, sp = slice(start, end, step).indices(x.shape[ax])
    if sp < 1:
        raise NotImplementedError("slice with a negative step")
    en = max(en, st)
    if st == 0 and en == x.shape[ax] and sp == 1:
        return x
    if en == st:
        raise NotImplementedError("slice producing an empty tensor")
    return lw.emit("slice", [x], {"axis": ax, "start": st, "end": en, "step": sp})


@handles("aten.slice.Tensor")
def _slice(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = a[0]
    dim = a[1] if len(a) > 1 else 0
    start = a[2] if len(a) > 2 else None
    end = a[3] if len(a) > 3 else None
    step = a[4] if len(a) > 4 else 1
    if end is not None and end > 2**62:
        end = None
    return _slice_value(lw, x, dim, start, end, step)


@handles("aten.select.int")
def _select(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, dim, idx = a
    ax = _axis(dim, len(x.shape))
    idx = idx % x.shape[ax]
    y = _slice_value(lw, x, ax, idx, idx + 1, 1)
    return lw.reshape(y, x.shape[:ax] + x.shape[ax + 1 :])


@handles("aten.split_with_sizes.default", "aten.split.Tensor")
def _split(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> list[Value]:
    x, sizes = a[0], a[1]
    dim = _axis(a[2] if len(a) > 2 else kw.get("dim", 0), len(x.shape))
    n = x.shape[dim]
    if isinstance(sizes, int):
        sizes = [min(sizes, n - s) for s in range(0, n, sizes)]
    outs, pos = [], 0
    for s in sizes:
        outs.append(_slice_value(lw, x, dim, pos, pos + s, 1))
        pos += s
    return outs


@handles("aten.unbind.int")
def _unbind(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> list[Value]:
    x = a[0]
    dim = _axis(a[1] if len(a) > 1 else 0, len(x.shape))
    return [_select(lw, (x, dim, i), {}) for i in range(x.shape[dim])]


@handles("aten.constant_pad_nd.default")
def _pad(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, pad = a[0], list(a[1])
    value = a[2] if len(a) > 2 else 0.0
    r = len(x.shape)
    pads = [0] * (2 * MAX_RANK)
    for i in range(len(pad) // 2):
        ax = r - 1 - i
        pads[2 * ax], pads[2 * ax + 1] = int(pad[2 * i]), int(pad[2 * i + 1])
    if not any(pads):
        return x
    return lw.emit("pad", [x], {"pads": tuple(pads), "value": float(value)})


@handles("aten.embedding.default")
def _embedding(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return lw.emit("embedding", [a[0], a[1]])


@handles("aten.scaled_dot_product_attention.default")
def _sdpa(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    q, k, v = a[:3]
    mask = a[3] if len(a) > 3 else kw.get("attn_mask")
    dropout = a[4] if len(a) > 4 else kw.get("dropout_p", 0.0)
    causal = a[5] if len(a) > 5 else kw.get("is_causal", False)
    scale = a[6] if len(a) > 6 else kw.get("scale")
    if kw.get("enable_gqa") or (len(a) > 7 and a[7]):
        raise NotImplementedError("scaled_dot_product_attention with enable_gqa=True")
    if dropout:
        raise NotImplementedError("attention dropout at inference")
    ins = [q, k, v]
    if mask is not None:
        if mask.dtype not in (DType.BOOL, DType.F32):
            mask = lw.cast(mask, DType.F32)
        ins.append(mask)
    return lw.emit("sdpa", ins, {"is_causal": int(bool(causal)), "scale": float(scale or 0.0)})


@handles(
    "aten.clone.default",
    "aten.alias.default",
    "aten.detach.default",
    "aten.lift_fresh_copy.default",
    "aten.contiguous.default",
    "aten.dropout.default",
    "aten.copy.default",
)
def _identity(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return a[1] if lw.source_op == "aten.copy.default" else a[0]


@handles("aten._to_copy.default", "aten.to.dtype", "aten.to.dtype_layout", "aten.type_as.default")
def _to_copy(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    from ember.frontend.torch_types import dtype_from_torch

    x = a[0]
    tdt = kw.get("dtype") or (a[1] if len(a) > 1 and not isinstance(a[1], Value) else None)
    if tdt is None:
        return x
    return lw.cast(x, dtype_from_torch(tdt))


@handles("aten.index.Tensor")
def _index(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    """Advanced indexing. Constant indices: the flat positions are computed now and gathered at run
    time. A run-time index tensor is supported on the first axis only (a row gather)."""
    x, indices = a[0], list(a[1])
    if all(i is None or i.is_const for i in indices):
        pos = np.arange(x.numel, dtype=np.int64).reshape(x.shape)
        sel = pos[tuple(slice(None) if i is None else i.data for i in indices)]
        if sel.size == 0:
            raise NotImplementedError("indexing that selects nothing")
        flat = lw.reshape(x, (x.numel, 1))
        idx = lw.g.const(np.ascontiguousarray(sel.astype(np.int64)), "index_positions")
        y = lw.emit("embedding", [flat, idx])
        return lw.reshape(y, tuple(sel.shape))
    if len(indices) >= 1 and indices[0] is not None and all(i is None for i in indices[1:]):
        idx = indices[0]
        if idx.dtype not in (DType.I32, DType.I64):
            raise NotImplementedError("boolean mask indexing with a run-time mask")
        rows = lw.reshape(x, (x.shape[0], max(1, x.numel // x.shape[0])))
        y = lw.emit("embedding", [rows, idx])
        return lw.reshape(y, idx.shape + x.shape[1:])
    raise NotImplementedError("advanced indexing with run-time indices on an inner axis")


@handles("aten.linalg_vector_norm.default")
def _vector_norm(lw: Lowering, a: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = a[0]
    ord_ = a[1] if len(a) > 1 else kw.get("ord", 2)
    dims = a[2] if len(a) > 2 else kw.get("dim")
    keep = a[3] if len(a) > 3 else kw.get("keepdim", False)
    reduce_sum = _reduce("reduce_sum")
    if ord_ == 2:
        return lw.emit("sqrt", [reduce_sum(lw, (lw.emit("mul", [x, x]), dims, keep), {})])
    if ord_ == 1:
        return reduce_sum(lw, (lw.emit("abs", [x]), dims, keep), {})
    if ord_ == math.inf:
        return _reduce("reduce_max")(lw, (lw.emit("abs", [x]), dims, keep), {})
    raise NotImplementedError(f"vector norm of order {ord_}")
