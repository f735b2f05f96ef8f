"""Each pass alone, on small graphs, against the numpy reference interpreter of the unoptimized graph."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from ember.ir.dtypes import DType
from ember.ir.graph import NODE_ALIAS, NODE_INPLACE, Graph
from ember.ir.ops import Act
from ember.passes.buffers import buffer_groups
from ember.passes.constant_fold import constant_fold
from ember.passes.dce import dead_code_elimination
from ember.passes.fold_batch_norm import fold_batch_norm
from ember.passes.fuse_activation import fuse_activation
from ember.passes.inplace import inplace_reuse
from ember.passes.legalize_io import legalize_outputs
from ember.passes.memory_plan import plan_memory
from ember.passes.views import alias_views
from ember.program import Program

rng = np.random.default_rng(0)


def f32(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def evaluate(g: Graph, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
    return Program(g, plan_memory(g), {}).reference(*inputs)


def test_dce_removes_unused_nodes_only() -> None:
    g = Graph()
    x = g.add_input("x", DType.F32, (4,))
    (a,) = g.add_node("relu", [x])
    g.add_node("exp", [x])  # dead
    (c,) = g.add_node("neg", [a])
    g.outputs = [c]
    dead_code_elimination(g)
    assert [n.op for n in g.nodes] == ["relu", "neg"]
    g.verify()


def test_constant_fold_replaces_constant_subgraphs() -> None:
    g = Graph()
    x = g.add_input("x", DType.F32, (3,))
    c = g.const(np.array([1.0, 4.0, 9.0], np.float32))
    (s,) = g.add_node("sqrt", [c])
    (y,) = g.add_node("add", [x, s])
    g.outputs = [y]
    before = evaluate(copy.deepcopy(g), np.ones(3, np.float32))
    constant_fold(g)
    assert [n.op for n in g.nodes] == ["add"] and g.nodes[0].inputs[1].is_const
    np.testing.assert_array_equal(evaluate(g, np.ones(3, np.float32))[0], before[0])


def test_constant_fold_does_not_blow_up_the_file() -> None:
    g = Graph()
    x = g.add_input("x", DType.F32, (256, 256))
    c = g.const(np.ones((1, 1), np.float32))
    (e,) = g.add_node("expand", [c], {"shape": (256, 256)})
    (y,) = g.add_node("add", [x, e])
    g.outputs = [y]
    constant_fold(g)
    assert [n.op for n in g.nodes] == ["expand", "add"]


@pytest.mark.parametrize("producer", ["conv2d", "linear"])
def test_batch_norm_folding_is_exact(producer: str) -> None:
    g = Graph()
    if producer == "conv2d":
        x = g.add_input("x", DType.F32, (1, 3, 6, 6))
        (y,) = g.add_node("conv2d", [x, g.const(f32(4, 3, 3, 3)), g.const(f32(4))], {"pad_h": 1, "pad_w": 1})
        c = 4
        inp = f32(1, 3, 6, 6)
    else:
        x = g.add_input("x", DType.F32, (5, 7))
        (y,) = g.add_node("linear", [x, g.const(f32(4, 7))])
        c = 4
        inp = f32(5, 7)
    var = rng.uniform(0.5, 2.0, c).astype(np.float32)
    (z,) = g.add_node(
        "batch_norm", [y, g.const(f32(c)), g.const(var), g.const(f32(c)), g.const(f32(c))], {"eps": 1e-5}
    )
    g.outputs = [z]
    before = evaluate(copy.deepcopy(g), inp)[0]
    fold_batch_norm(g)
    g.verify()
    assert [n.op for n in g.nodes] == [producer]
    np.testing.assert_allclose(evaluate(g, inp)[0], before, rtol=1e-5, atol=1e-5)


def test_batch_norm_not_folded_when_conv_output_is_shared() -> None:
    g = Graph()
    x = g.add_input("x", DType.F32, (1, 2, 4, 4))
    (y,) = g.add_node("conv2d", [x, g.const(f32(2, 2, 1, 1))])
    (z,) = g.add_node("batch_norm", [y] + [g.const(np.ones(2, np.float32)) for _ in range(4)])
    (w,) = g.add_node("add", [y, z])
    g.outputs = [w]
    fold_batch_norm(g)
    assert [n.op for n in g.nodes] == ["conv2d", "batch_norm", "add"]


@pytest.mark.parametrize(
    "act_op,attrs,code",
    [
        ("relu", {}, Act.RELU),
        ("clamp", {"min": 0.0, "max": 6.0}, Act.CLAMP),
        ("silu", {}, Act.SILU),
        ("gelu", {"approximate": 1}, Act.GELU_TANH),
        ("hardswish", {}, Act.HARDSWISH),
    ],
)
def test_activation_fusion(act_op: str, attrs: dict, code: int) -> None:
    g = Graph()
    x = g.add_input("x", DType.F32, (3, 8))
    (y,) = g.add_node("linear", [x, g.const(f32(5, 8)), g.const(f32(5))])
    (z,) = g.add_node(act_op, [y], attrs)
    g.outputs = [z]
    inp = f32(3, 8) * 3
    before = evaluate(copy.deepcopy(g), inp)[0]
    fuse_activation(g)
    g.verify()
    assert [n.op for n in g.nodes] == ["linear"] and g.nodes[0].attrs["act"] == code
    np.testing.assert_allclose(evaluate(g, inp)[0], before, rtol=1e-6, atol=1e-6)


def test_activation_not_fused_into_shared_producer() -> None:
    g = Graph()
    x = g.add_input("x", DType.F32, (2, 4))
    (y,) = g.add_node("linear", [x, g.const(f32(4, 4))])
    (z,) = g.add_node("relu", [y])
    (w,) = g.add_node("add", [y, z])
    g.outputs = [w]
    fuse_activation(g)
    assert [n.op for n in g.nodes] == ["linear", "relu", "add"]


def _chain() -> Graph:
    g = Graph()
    x = g.add_input("x", DType.F32, (4, 16))
    (a,) = g.add_node("linear", [x, g.const(f32(16, 16))])
    (b,) = g.add_node("reshape", [a], {"shape": (2, 32)})
    (c,) = g.add_node("relu", [b])
    (d,) = g.add_node("reshape", [c], {"shape": (4, 16)})
    (e,) = g.add_node("linear", [d, g.const(f32(8, 16))])
    g.outputs = [e]
    return g


def test_views_alias_and_inplace_share_one_buffer() -> None:
    g = inplace_reuse(alias_views(_chain()))
    flags = [n.flags for n in g.nodes]
    assert flags == [0, NODE_ALIAS, NODE_INPLACE, NODE_ALIAS, 0]
    bufs, root = buffer_groups(g)
    a, d = g.nodes[0].outputs[0], g.nodes[3].outputs[0]
    assert root[a.uid] == root[d.uid]
    plan = plan_memory(g)
    assert plan.offsets[a.uid] == plan.offsets[d.uid]


def test_inplace_refused_when_input_lives_on() -> None:
    g = Graph()
    x = g.add_input("x", DType.F32, (8,))
    (a,) = g.add_node("exp", [x])
    (b,) = g.add_node("relu", [a])
    (c,) = g.add_node("add", [a, b])  # a is still needed after relu
    g.outputs = [c]
    inplace_reuse(g)
    assert g.nodes[1].flags == 0  # relu must not overwrite a
    assert g.nodes[2].flags == NODE_INPLACE  # add may overwrite a (its last use)
    assert g.nodes[0].flags == 0  # never overwrite a graph input


def test_memory_plan_never_overlaps_live_buffers() -> None:
    """Property: for random DAGs, buffers alive at the same step never share bytes, and
    lower_bound <= arena."""
    for seed in range(25):
        r = np.random.default_rng(seed)
        g = Graph()
        vals = [g.add_input("x", DType.F32, (int(r.integers(1, 64)),))]
        for _ in range(int(r.integers(3, 30))):
            src = vals[int(r.integers(0, len(vals)))]
            n = int(r.integers(1, 300))
            (y,) = g.add_node("pad", [src], {"pads": (0, n) + (0,) * 14})
            vals.append(y)
        g.outputs = [vals[-1], vals[len(vals) // 2]]
        legalize_outputs(g)
        inplace_reuse(alias_views(g))
        bufs, root = buffer_groups(g)
        plan = plan_memory(g)
        assert plan.lower_bound <= plan.arena_bytes
        items = list(bufs.values())
        for i, b1 in enumerate(items):
            o1 = plan.offsets[b1.root.uid]
            for b2 in items[i + 1 :]:
                o2 = plan.offsets[b2.root.uid]
                if b1.last < b2.first or b2.last < b1.first:
                    continue
                assert o1 + b1.nbytes <= o2 or o2 + b2.nbytes <= o1, f"seed {seed}: live buffers overlap"


def test_legalize_outputs_copies_inputs_constants_and_repeats() -> None:
    g = Graph()
    x = g.add_input("x", DType.F32, (2,))
    (y,) = g.add_node("relu", [x])
    g.outputs = [x, y, y, g.const(np.ones(2, np.float32))]
    legalize_outputs(g)
    g.verify()
    assert len({v.uid for v in g.outputs}) == 4
    assert all(not v.is_const and v is not x for v in g.outputs)
    outs = evaluate(g, np.array([-1.0, 2.0], np.float32))
    np.testing.assert_array_equal(outs[0], [-1.0, 2.0])
    np.testing.assert_array_equal(outs[3], [1.0, 1.0])
