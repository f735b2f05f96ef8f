"""Layout: run convolution chains in NHWC (channels last), with as few transposes as possible.

Why: in NHWC a 1x1 convolution is a GEMM over [pixels, C_in] x [C_in, C_out] that reads the
activations in place (it becomes a plain `linear`, packed like any other), a k x k convolution packs
contiguous C_in runs per tap (conv2d_nhwc), and a depthwise convolution vectorizes along channels
(dwconv2d_nhwc) instead of along short image rows.

How: 4-D float32 tensors are grouped into *regions*: a convolution ties its input and output to one
region, and so do ops that work the same in either layout (elementwise ops with same-shape or
constant operands, max pooling, reductions, channel concat). A region with at least one convolution
switches to NHWC: its ops are rewritten (constants permuted at export), and a transpose is inserted
only where a region value meets a graph input, a graph output or an op that needs NCHW. 3x3
stride-1 convolutions with enough channels use Winograd F(2x2, 3x3) (conv2d_winograd, weights
transformed at export). A reshape of
a [N, C, 1, 1] tensor (global pooling, then flatten) reads the same bytes in both layouts and needs no
transpose. Runs after the graph-level optimizations (BN folding, activation fusion) and before weight
packing, so 1x1 convolutions become linear layers that pack_linear_weights turns into linear_packed.
"""

from __future__ import annotations

import numpy as np

from ember.ir import ops as opdefs
from ember.ir.dtypes import DType
from ember.ir.graph import Graph, Node, Value

TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)
NEW_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}  # NCHW axis -> its NHWC position

WINOGRAD_MIN_CHANNELS = 32  # below this the tile transforms cost more than the multiplies saved
# below 14x14 outputs (49 tiles of 2x2) the weights dominate: ResNet-18's 7x7x512 layers run no faster
# with Winograd inside the model (streaming 16/9 of the weight bytes), so they stay direct and small
WINOGRAD_MIN_TILES = 49

_NOT_FLEXIBLE = {"where"}
_QIO = ("x_zp", "y_zp", "qmin", "qmax")


def _is4(v: Value) -> bool:
    return len(v.shape) == 4 and v.dtype in (DType.F32, DType.I8)


def _conv_kind(n: Node) -> str | None:
    """How this convolution runs in NHWC ("dense" / "depthwise" for float32, "qpointwise" / "qdense" /
    "qdepthwise" for int8), or None if it stays NCHW."""
    if (
        n.op not in ("conv2d", "qconv2d")
        or not _is4(n.inputs[0])
        or not all(v.is_const for v in n.inputs[1:])
    ):
        return None
    g, w, a = n.attrs.get("groups", 1), n.inputs[1].shape, n.attrs
    depthwise = w[1] == 1 and g == n.inputs[0].shape[1] == w[0]
    if n.op == "conv2d":
        if n.inputs[0].dtype != DType.F32 or n.inputs[1].dtype != DType.F32:
            return None
        return "dense" if g == 1 else ("depthwise" if depthwise else None)
    unit = a.get("stride_h", 1) == a.get("stride_w", 1) == 1 and a.get("pad_h", 0) == a.get("pad_w", 0) == 0
    if g == 1 and w[2] == w[3] == 1 and unit:
        return "qpointwise"  # an int8 GEMM over pixels: qlinear
    if g == 1:
        return "qdense"  # im2col per pixel row onto the int8 GEMM: qconv2d_nhwc
    return "qdepthwise" if depthwise else None  # grouped int8 convolutions stay NCHW (qconv2d)


def _reduce_ok(n: Node) -> bool:
    mask, keep = n.attrs.get("axes_mask", 0), n.attrs.get("keepdim", 0)
    axes = {i for i in range(4) if mask >> i & 1}
    # without keepdim the result is the same tensor in both layouts only if the kept axes keep their order
    return bool(keep) or 1 in axes or {2, 3} <= axes


def _flexible_inputs(n: Node) -> list[Value] | None:
    """The 4-D inputs an op ties to its output's region, or None if the op needs NCHW."""
    out = n.outputs[0] if len(n.outputs) == 1 else None
    if out is None:
        return None
    if _conv_kind(n):
        return [n.inputs[0]]
    if n.op == "max_pool2d" and _is4(n.inputs[0]):
        return [n.inputs[0]]
    if n.op in ("reduce_mean", "reduce_sum", "reduce_max") and _is4(n.inputs[0]) and _reduce_ok(n):
        return [n.inputs[0]]
    if n.op == "concat" and _is4(out) and all(_is4(v) and not v.is_const for v in n.inputs):
        return list(n.inputs)
    if n.opdef.category == "elementwise" and n.op not in _NOT_FLEXIBLE and _is4(out):
        ins = []
        for v in n.inputs:
            if v.is_const:
                if len(v.shape) > 4:
                    return None
            elif v.shape == out.shape and v.dtype == out.dtype:
                ins.append(v)
            else:
                return None  # a broadcast runtime operand: keep NCHW
        return ins
    return None


def _output_in_region(n: Node) -> bool:
    return _is4(n.outputs[0])


class _Regions:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, u: int) -> int:
        self.parent.setdefault(u, u)
        while self.parent[u] != u:
            self.parent[u] = self.parent[self.parent[u]]
            u = self.parent[u]
        return u

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _nhwc_const(v: Value, graph: Graph) -> Value:
    data = v.data
    assert data is not None
    data = data.reshape((1,) * (4 - data.ndim) + data.shape).transpose(TO_NHWC)
    return graph.const(np.ascontiguousarray(data), v.name + "_nhwc")


def _rewrite(n: Node, kind: str | None, graph: Graph, winograd: bool) -> None:
    """Turn a region node into its NHWC form (inputs already NHWC); output shapes are re-derived.
    `kind` is _conv_kind(n), taken before the inputs changed layout."""
    a = dict(n.attrs)
    if kind == "dense":
        w = n.inputs[1].data
        assert w is not None
        o, _, kh, kw = w.shape
        geom = {spec.name: a.get(spec.name, spec.default) for spec in opdefs.NHWC_CONV_GEOMETRY}
        epi = {k: a[k] for k in ("act", "act_min", "act_max") if k in a}
        unit = geom["stride_h"] == geom["stride_w"] == geom["dil_h"] == geom["dil_w"] == 1
        tiles = -(-n.outputs[0].shape[2] // 2) * -(-n.outputs[0].shape[3] // 2)  # NCHW output, before rewrite
        if (
            winograd
            and kh == kw == 3
            and unit
            and min(o, w.shape[1]) >= WINOGRAD_MIN_CHANNELS
            and tiles >= WINOGRAD_MIN_TILES
        ):
            n.op = "conv2d_winograd"
            n.attrs = {"n": o, "pad_h": geom["pad_h"], "pad_w": geom["pad_w"], **epi}
            wino = graph.const(opdefs.winograd_weight(w), n.inputs[1].name + "_wino")
            n.inputs = [n.inputs[0], wino, *n.inputs[2:]]
        elif (
            kh == kw == 1
            and geom["stride_h"] == geom["stride_w"] == 1
            and geom["pad_h"] == geom["pad_w"] == 0
        ):
            n.op, n.attrs = "linear", epi
            n.inputs = [
                n.inputs[0],
                graph.const(np.ascontiguousarray(w[:, :, 0, 0]), n.inputs[1].name + "_1x1"),
                *n.inputs[2:],
            ]
        else:
            panels = opdefs.pack_panels(opdefs.nhwc_conv_weight(w))
            n.op, n.attrs = "conv2d_nhwc", {"n": o, "kernel_h": kh, "kernel_w": kw, **geom, **epi}
            n.inputs = [n.inputs[0], graph.const(panels, n.inputs[1].name + "_nhwc"), *n.inputs[2:]]
    elif kind == "qpointwise":
        w = n.inputs[1].data
        assert w is not None
        n.op, n.attrs = "qlinear", {k: a[k] for k in _QIO if k in a}
        n.inputs = [
            n.inputs[0],
            graph.const(np.ascontiguousarray(w[:, :, 0, 0]), n.inputs[1].name + "_1x1"),
            *n.inputs[2:],
        ]
    elif kind == "qdense":
        w = n.inputs[1].data
        assert w is not None
        a.pop("groups", None)
        n.op, n.attrs = "qconv2d_nhwc", a
        ohwi = np.ascontiguousarray(w.transpose(0, 2, 3, 1))
        n.inputs = [n.inputs[0], graph.const(ohwi, n.inputs[1].name + "_ohwi"), *n.inputs[2:]]
    elif kind == "qdepthwise":
        w = n.inputs[1].data
        assert w is not None
        a.pop("groups", None)
        n.op, n.attrs = "qdwconv2d_nhwc", a
        hwc = np.ascontiguousarray(w[:, 0].transpose(1, 2, 0))
        n.inputs = [n.inputs[0], graph.const(hwc, n.inputs[1].name + "_hwc"), *n.inputs[2:]]
    elif kind == "depthwise":
        w = n.inputs[1].data
        assert w is not None
        a.pop("groups", None)
        n.op, n.attrs = "dwconv2d_nhwc", a
        hwc = np.ascontiguousarray(w[:, 0].transpose(1, 2, 0))
        n.inputs = [n.inputs[0], graph.const(hwc, n.inputs[1].name + "_hwc"), *n.inputs[2:]]
    elif n.op == "max_pool2d":
        n.op = "max_pool2d_nhwc"
    elif n.op in ("reduce_mean", "reduce_sum", "reduce_max"):
        mask = a.get("axes_mask", 0)
        n.attrs = {**a, "axes_mask": sum(1 << NEW_AXIS[i] for i in range(4) if mask >> i & 1)}
    elif n.op == "concat":
        n.attrs = {**a, "axis": NEW_AXIS[opdefs.norm_axis(a.get("axis", 0), 4)]}
    else:  # elementwise: permute constant operands
        n.inputs = [_nhwc_const(v, graph) if v.is_const else v for v in n.inputs]
    outs = opdefs.infer(n.opdef, [v.shape for v in n.inputs], [v.dtype for v in n.inputs], n.attrs)
    for v, (shape, _dt) in zip(n.outputs, outs):
        v.shape = shape


def _permute(graph: Graph, v: Value, perm: tuple[int, ...], name: str) -> tuple[Node, Value]:
    (out,) = graph.add_node("permute", [v], {"perm": perm}, name=name)
    node = graph.nodes.pop()  # placed by the caller
    return node, out


def to_channels_last(graph: Graph, winograd: bool = True) -> Graph:
    """Rewrite convolution regions to NHWC. `winograd`: 3x3 stride-1 convolutions with at least
    WINOGRAD_MIN_CHANNELS input and output channels use Winograd F(2x2, 3x3) (2.25x fewer multiplies;
    their weights are stored transformed, 16/9 of the bytes)."""
    kinds = {id(n): _conv_kind(n) for n in graph.nodes}  # before any shape changes
    regions = _Regions()
    member: dict[int, Value] = {}
    ties: dict[int, list[Value]] = {}
    for n in graph.nodes:
        ins = _flexible_inputs(n)
        if ins is None:
            continue
        ties[id(n)] = ins
        out = n.outputs[0]
        if _output_in_region(n):
            member[out.uid] = out
            regions.find(out.uid)
        for v in ins:
            member[v.uid] = v
            if _output_in_region(n):
                regions.union(v.uid, out.uid)
            else:
                regions.find(v.uid)
    with_conv = {regions.find(n.inputs[0].uid) for n in graph.nodes if kinds[id(n)]}
    if not with_conv:
        return graph
    nhwc = {u for u in member if regions.find(u) in with_conv}
    converted = {
        id(n)
        for n in graph.nodes
        if id(n) in ties
        and all(v.uid in nhwc for v in ties[id(n)])
        and (not _output_in_region(n) or n.outputs[0].uid in nhwc)
    }

    # a value is stored NHWC iff its producer was converted; everyone else's reads go through one
    # transpose per value, placed before its first reader
    def stored_nhwc(v: Value) -> bool:
        return v.producer is not None and id(v.producer) in converted and _output_in_region(v.producer)

    new_nodes: list[Node] = []
    views: dict[tuple[int, tuple[int, ...]], Value] = {}

    def view(v: Value, perm: tuple[int, ...]) -> Value:
        key = (v.uid, perm)
        if key not in views:
            suffix = "_to_nhwc" if perm == TO_NHWC else "_to_nchw"
            node, out = _permute(graph, v, perm, v.name + suffix)
            new_nodes.append(node)
            views[key] = out
        return views[key]

    for n in graph.nodes:
        if id(n) in converted:
            tied, kind = {v.uid for v in ties[id(n)]}, kinds[id(n)]
            n.inputs = [view(v, TO_NHWC) if v.uid in tied and not stored_nhwc(v) else v for v in n.inputs]
            _rewrite(n, kind, graph, winograd)
        else:
            n.inputs = [
                v
                if not stored_nhwc(v) or (n.op == "reshape" and v.shape[1] == v.shape[2] == 1)
                else view(v, TO_NCHW)
                for v in n.inputs
            ]
        new_nodes.append(n)
    graph.nodes = new_nodes
    graph.outputs = [view(v, TO_NCHW) if stored_nhwc(v) else v for v in graph.outputs]
    return graph
