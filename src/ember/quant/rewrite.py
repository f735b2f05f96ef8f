"""The quantization graph rewrite: from an optimized fp32 graph and a per-layer plan, build a new
graph where planned layers run quantized.

Plan values per layer (node name of a conv2d / linear / embedding): "int8" (static: int8 in and out,
needs activation ranges), "int8-dynamic" (linear: float in and out, rows quantized at run time),
"int4-weight" (linear, embedding), or "fp32" (unchanged).

Static int8 tensors carry (scale, zero point) in this pass only; the file just has int8 tensors and
the parameters as attributes of the ops that read and write them. Quantize nodes are placed where a
float tensor first feeds an int8 layer, dequantize nodes where an int8 tensor feeds a float op.
max_pool2d and reshape keep int8 tensors quantized (exact: they only move or compare values).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ember.ir.dtypes import DType
from ember.ir.graph import Graph, Node, Value
from ember.ir.ops import Q_BIAS_LIMIT, Q_MAX_K, Act
from ember.quant.observers import affine_params
from ember.quant.weights import int4_groupwise, int8_per_channel

SCHEMES = ("int8", "int8-dynamic", "int4-weight", "fp32")
_EXACT_INT8 = ("max_pool2d", "reshape")


@dataclass
class LayerInfo:
    name: str
    op: str
    scheme: str
    fp32_bytes: int
    quant_bytes: int
    out_uid: int  # the original (fp32) output value
    new_out: Value | None = None  # its float image in the new graph (dequantized if int8)
    notes: str = ""


@dataclass
class Rewritten:
    graph: Graph
    layers: list[LayerInfo] = field(default_factory=list)


def eligible(node: Node, scheme: str, group_size: int = 32) -> str:
    """'' if `scheme` can be applied to `node`, else the reason it cannot."""
    if scheme == "fp32":
        return ""
    if node.op == "embedding":
        w = node.inputs[0]
        if not w.is_const or w.dtype != DType.F32 or len(w.shape) != 2:
            return "table is not a constant float32 matrix"
        if scheme == "int4-weight" and w.shape[1] % group_size:
            return f"table width {w.shape[1]} is not a multiple of the group size {group_size}"
        return ""
    if node.op not in ("conv2d", "linear"):
        return f"{node.op} is not quantized"
    x, w = node.inputs[0], node.inputs[1]
    if not w.is_const or w.dtype != DType.F32 or x.dtype != DType.F32:
        return "weight is not a float32 constant"
    if len(node.inputs) > 2 and not node.inputs[2].is_const:
        return "bias is not a constant"
    k = int(np.prod(w.shape[1:]))
    if k > Q_MAX_K:
        return f"reduction length {k} > {Q_MAX_K}"
    act = node.attrs.get("act", Act.NONE)
    if scheme == "int8":
        if act not in (Act.NONE, Act.RELU, Act.CLAMP):
            return f"activation {Act.NAMES[act]} is not a clamp (kept in float32)"
        return ""
    if node.op != "linear":
        return f"{scheme} covers linear layers{' and embeddings' if scheme == 'int4-weight' else ''} only"
    if scheme == "int4-weight" and w.shape[1] % group_size:
        return f"K={w.shape[1]} is not a multiple of the group size {group_size}"
    return ""


def rewrite(
    src: Graph,
    plan: dict[str, str],
    ranges: Callable[[int], tuple[float, float]] | None = None,
    group_size: int = 32,
    debug_outputs: bool = False,
) -> Rewritten:
    """Build the quantized graph. `ranges(uid)` gives the calibrated (lo, hi) of an original value
    (needed by int8 layers). With debug_outputs, each quantized layer's float output is appended to
    the graph outputs (for per-layer error reports)."""
    g = Graph()
    g.meta = dict(src.meta)
    fmap: dict[int, Value] = {}
    qmap: dict[int, tuple[Value, float, int]] = {}
    consts: dict[int, Value] = {}
    out = Rewritten(g)

    for v in src.inputs:
        fmap[v.uid] = g.add_input(v.name, v.dtype, v.shape)

    def const(v: Value) -> Value:
        if v.uid not in consts:
            assert v.data is not None
            consts[v.uid] = g.const(v.data, v.name)
        return consts[v.uid]

    def getf(v: Value) -> Value:
        if v.is_const:
            return const(v)
        if v.uid not in fmap:
            qv, s, zp = qmap[v.uid]
            fmap[v.uid] = g.add_node("dequantize", [qv], {"scale": s, "zero_point": zp}, name=v.name + "_dq")[
                0
            ]
        return fmap[v.uid]

    def act_params(v: Value) -> tuple[float, int]:
        assert ranges is not None, "int8 static quantization needs calibration ranges"
        return affine_params(*ranges(v.uid))

    def getq(v: Value) -> tuple[Value, float, int]:
        if v.uid not in qmap:
            s, zp = act_params(v)
            qv = g.add_node("quantize", [getf(v)], {"scale": s, "zero_point": zp}, name=v.name + "_q")[0]
            qmap[v.uid] = (qv, s, zp)
        return qmap[v.uid]

    for node in src.nodes:
        scheme = plan.get(node.name, "fp32")
        if scheme != "fp32" and eligible(node, scheme, group_size):
            scheme = "fp32"
        y = node.outputs[0]
        if scheme == "int8" and node.op != "embedding":
            info = _static_int8(g, node, getq, act_params, const, qmap)
        elif scheme == "int8-dynamic" and node.op != "embedding":
            info = _dynamic_int8(g, node, getf, const, fmap)
        elif scheme == "int4-weight" and node.op == "linear":
            info = _int4_linear(g, node, getf, const, fmap, group_size)
        elif scheme == "int4-weight":
            info = _int4_embedding(g, node, getf, fmap, group_size)
        elif node.op == "embedding" and scheme in ("int8", "int8-dynamic"):
            info = _int8_embedding(g, node, getf, fmap, scheme)
        elif _qadd_ok(node, qmap, ranges):
            (qa, sa, za), (qb, sb, zb) = qmap[node.inputs[0].uid], qmap[node.inputs[1].uid]
            ys, yz = act_params(y)
            attrs = {
                "a_zp": za,
                "b_zp": zb,
                "y_zp": yz,
                "a_mult": sa / ys,
                "b_mult": sb / ys,
                "qmin": yz if node.attrs.get("act", Act.NONE) == Act.RELU else -128,
            }
            r = g.add_node("qadd", [qa, qb], attrs, name=node.name, source=node.source)[0]
            qmap[y.uid] = (r, ys, yz)
            continue
        elif node.op in _EXACT_INT8 and node.inputs[0].uid in qmap:
            qv, s, zp = qmap[node.inputs[0].uid]
            r = g.add_node(node.op, [qv], node.attrs, name=node.name, source=node.source)[0]
            qmap[y.uid] = (r, s, zp)
            continue
        else:
            outs = g.add_node(
                node.op, [getf(v) for v in node.inputs], node.attrs, name=node.name, source=node.source
            )
            for old, new in zip(node.outputs, outs):
                fmap[old.uid] = new
            continue
        info.out_uid = y.uid
        out.layers.append(info)

    g.outputs = [getf(v) for v in src.outputs]
    if debug_outputs:
        by_uid = {v.uid: v for n in src.nodes for v in n.outputs}
        for info in out.layers:
            info.new_out = getf(by_uid[info.out_uid])
        g.outputs = g.outputs + [i.new_out for i in out.layers if i.new_out is not None]
    return out


def _qadd_ok(node: Node, qmap: dict, ranges: Any) -> bool:
    """An add of two int8 tensors of one shape, with no or a relu epilogue and a calibrated output."""
    if node.op != "add" or ranges is None or node.attrs.get("act", Act.NONE) not in (Act.NONE, Act.RELU):
        return False
    a, b = node.inputs
    if a.uid not in qmap or b.uid not in qmap or a.shape != b.shape:
        return False
    try:
        ranges(node.outputs[0].uid)
    except KeyError:
        return False
    return True


def _weight_bytes(node: Node) -> int:
    return sum(v.nbytes for v in node.inputs if v.is_const)


def _static_int8(g: Graph, node: Node, getq: Any, act_params: Any, const: Any, qmap: dict) -> LayerInfo:
    x, w = node.inputs[0], node.inputs[1]
    y = node.outputs[0]
    qx, xs, xzp = getq(x)
    ys, yzp = act_params(y)
    assert w.data is not None
    wq, ws = int8_per_channel(w.data)
    n = w.shape[0]
    bias = node.inputs[2].data if len(node.inputs) > 2 else np.zeros(n, np.float32)
    assert bias is not None
    acc_scale = np.float64(xs) * ws.astype(np.float64)
    bq = np.clip(np.rint(bias.astype(np.float64) / acc_scale), -Q_BIAS_LIMIT, Q_BIAS_LIMIT).astype(np.int32)
    mult = (acc_scale / np.float64(ys)).astype(np.float32)
    act = node.attrs.get("act", Act.NONE)
    qmin, qmax = -128, 127
    if act == Act.RELU:
        qmin = max(qmin, yzp)
    elif act == Act.CLAMP:
        lo, hi = node.attrs.get("act_min", -np.inf), node.attrs.get("act_max", np.inf)
        if np.isfinite(lo):
            qmin = int(np.clip(yzp + np.ceil(lo / ys - 1e-6), -128, 127))
        if np.isfinite(hi):
            qmax = int(np.clip(yzp + np.floor(hi / ys + 1e-6), -128, 127))
        qmax = max(qmax, qmin)
    attrs: dict[str, Any] = {"x_zp": xzp, "y_zp": yzp, "qmin": qmin, "qmax": qmax}
    op = "qlinear"
    if node.op == "conv2d":
        op = "qconv2d"
        attrs.update({k: v for k, v in node.attrs.items() if k not in ("act", "act_min", "act_max")})
    ins = [
        qx,
        g.const(wq, w.name + "_q8"),
        g.const(bq, w.name + "_bias_q32"),
        g.const(mult, w.name + "_requant"),
    ]
    r = g.add_node(op, ins, attrs, name=node.name, source=node.source)[0]
    qmap[y.uid] = (r, ys, yzp)
    qbytes = sum(v.nbytes for v in ins[1:])
    return LayerInfo(node.name, node.op, "int8", _weight_bytes(node), qbytes, y.uid)


def _split_act(g: Graph, node: Node, attrs: dict[str, Any], r: Value) -> Value:
    """A GELU epilogue runs as the separate (vectorized) fp32 gelu op after the quantized linear: in the
    quantized kernels every epilogue is the scalar reference function (exact, libm erf), which costs more
    than the integer GEMM for an FFN (MiniLM: 6 ms of 8 per layer). Other activations stay fused."""
    act = attrs.get("act", Act.NONE)
    if act not in (Act.GELU, Act.GELU_TANH):
        return r
    approx = 1 if act == Act.GELU_TANH else 0
    return g.add_node("gelu", [r], {"approximate": approx}, name=node.name + "_gelu", source=node.source)[0]


def _no_gelu(attrs: dict[str, Any]) -> dict[str, Any]:
    if attrs.get("act", Act.NONE) in (Act.GELU, Act.GELU_TANH):
        return {k: v for k, v in attrs.items() if k not in ("act", "act_min", "act_max")}
    return attrs


def _dynamic_int8(g: Graph, node: Node, getf: Any, const: Any, fmap: dict) -> LayerInfo:
    w = node.inputs[1]
    assert w.data is not None
    wq, ws = int8_per_channel(w.data)
    ins = [getf(node.inputs[0]), g.const(wq, w.name + "_q8"), g.const(ws, w.name + "_scale")]
    if len(node.inputs) > 2:
        ins.append(const(node.inputs[2]))
    attrs = {k: v for k, v in node.attrs.items() if k in ("act", "act_min", "act_max")}
    r = g.add_node("dqlinear", ins, _no_gelu(attrs), name=node.name, source=node.source)[0]
    fmap[node.outputs[0].uid] = _split_act(g, node, attrs, r)
    return LayerInfo(
        node.name, node.op, "int8-dynamic", _weight_bytes(node), sum(v.nbytes for v in ins[1:]), 0
    )


def _int4_linear(g: Graph, node: Node, getf: Any, const: Any, fmap: dict, gs: int) -> LayerInfo:
    w = node.inputs[1]
    assert w.data is not None
    packed, sc = int4_groupwise(w.data, gs)
    ins = [getf(node.inputs[0]), g.const(packed, w.name + "_q4"), g.const(sc, w.name + "_q4scale")]
    if len(node.inputs) > 2:
        ins.append(const(node.inputs[2]))
    attrs = {"group_size": gs, **{k: v for k, v in node.attrs.items() if k in ("act", "act_min", "act_max")}}
    r = g.add_node("q4linear", ins, _no_gelu(attrs), name=node.name, source=node.source)[0]
    fmap[node.outputs[0].uid] = _split_act(g, node, attrs, r)
    return LayerInfo(
        node.name, node.op, "int4-weight", _weight_bytes(node), sum(v.nbytes for v in ins[1:]), 0
    )


def _int4_embedding(g: Graph, node: Node, getf: Any, fmap: dict, gs: int) -> LayerInfo:
    w = node.inputs[0]
    assert w.data is not None
    packed, sc = int4_groupwise(w.data, gs)
    ins = [g.const(packed, w.name + "_q4"), g.const(sc, w.name + "_q4scale"), getf(node.inputs[1])]
    r = g.add_node("q4embedding", ins, {"group_size": gs}, name=node.name, source=node.source)[0]
    fmap[node.outputs[0].uid] = r
    return LayerInfo(node.name, node.op, "int4-weight", _weight_bytes(node), ins[0].nbytes + ins[1].nbytes, 0)


def _int8_embedding(g: Graph, node: Node, getf: Any, fmap: dict, scheme: str) -> LayerInfo:
    w = node.inputs[0]
    assert w.data is not None
    wq, ws = int8_per_channel(w.data)  # one symmetric scale per row
    ins = [g.const(wq, w.name + "_q8"), g.const(ws, w.name + "_scale"), getf(node.inputs[1])]
    r = g.add_node("q8embedding", ins, {}, name=node.name, source=node.source)[0]
    fmap[node.outputs[0].uid] = r
    return LayerInfo(node.name, node.op, scheme, _weight_bytes(node), ins[0].nbytes + ins[1].nbytes, 0)
