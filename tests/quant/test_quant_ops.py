"""Quantized ops: the C reference kernel against the numpy reference of the op table, bit for bit
(integer outputs and the float outputs of the dynamic ops, whose arithmetic order is specified in
docs/quantization.md), plus the numpy reference against a float64 formulation of what the op means."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ember.ir.ops import Act, q4_pack, q4_unpack, q_quantize_rows
from tests.core.helpers import run_one_op

rng = np.random.default_rng(7)


def i8(*shape: int, lo: int = -128, hi: int = 127) -> np.ndarray:
    return rng.integers(lo, hi + 1, shape).astype(np.int8)


def f(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def qparams(n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = i8(n, k, lo=-127)
    b = rng.integers(-5000, 5000, n).astype(np.int32)
    s = (rng.uniform(0.5, 2.0, n) / (k * 40)).astype(np.float32)
    return w, b, s


def check(op: str, inputs: list[np.ndarray], attrs: dict[str, Any], consts: tuple[int, ...]) -> np.ndarray:
    got, want = run_one_op(op, inputs, attrs, consts)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    return got


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 33), (2, 3, 5, 17)])
def test_quantize_dequantize(shape: tuple[int, ...]) -> None:
    x = f(*shape, scale=3.0)
    x.flat[0] = 1000.0  # saturates
    attrs = {"scale": 0.037, "zero_point": -5}
    q = check("quantize", [x], attrs, ())
    want = np.clip(np.round(x.astype(np.float64) / np.float32(0.037)) - 5, -128, 127)
    assert np.abs(q.astype(np.float64) - want).max() <= 1  # only float32 division ties can differ
    assert q.flat[0] == 127
    y = check("dequantize", [q], attrs, ())
    np.testing.assert_allclose(y, (q.astype(np.float64) + 5) * 0.037, rtol=1e-6)


def test_quantize_ties_to_even() -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, np.inf, -np.inf, np.nan], np.float32)
    q = check("quantize", [x], {"scale": 1.0, "zero_point": 0}, ())
    assert q.tolist() == [0, 2, 2, 0, -2, 127, -128, 0]


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 17, 5), (2, 64, 33), (7, 129, 16)])
def test_qlinear(m: int, k: int, n: int) -> None:
    w, b, s = qparams(n, k)
    x = i8(m, k)
    attrs = {"x_zp": 3, "y_zp": -7, "qmin": -7, "qmax": 127}  # relu folded into qmin
    y = check("qlinear", [x, w, b, s], attrs, (1, 2, 3))
    acc = (x.astype(np.int64) - 3) @ w.astype(np.int64).T + b
    ideal = np.clip(np.round(acc * s.astype(np.float64)) - 7, -7, 127)
    assert np.abs(y - ideal).max() <= 1


@pytest.mark.parametrize(
    "xs,ws,attrs",
    [
        ((1, 3, 8, 8), (4, 3, 3, 3), {"pad_h": 1, "pad_w": 1}),
        ((2, 4, 9, 7), (6, 2, 3, 2), {"stride_h": 2, "stride_w": 3, "pad_h": 1, "groups": 2}),
        ((1, 5, 11, 11), (5, 1, 3, 3), {"groups": 5, "pad_h": 1, "pad_w": 1, "dil_h": 2, "dil_w": 2}),
        ((1, 13, 5, 3), (7, 13, 1, 1), {}),
    ],
)
def test_qconv2d(xs: tuple[int, ...], ws: tuple[int, ...], attrs: dict[str, Any]) -> None:
    w = i8(*ws, lo=-127)
    _, b, s = qparams(ws[0], int(np.prod(ws[1:])))
    x = i8(*xs)
    a = {**attrs, "x_zp": -20, "y_zp": 11, "qmin": -128, "qmax": 100}
    y = check("qconv2d", [x, w, b, s], a, (1, 2, 3))
    import torch
    import torch.nn.functional as F

    acc = F.conv2d(
        torch.from_numpy(x.astype(np.float64) + 20),
        torch.from_numpy(w.astype(np.float64)),
        torch.from_numpy(b.astype(np.float64)),
        stride=(a.get("stride_h", 1), a.get("stride_w", 1)),
        padding=(a.get("pad_h", 0), a.get("pad_w", 0)),
        dilation=(a.get("dil_h", 1), a.get("dil_w", 1)),
        groups=a.get("groups", 1),
    ).numpy()
    ideal = np.clip(np.round(acc * s.astype(np.float64)[None, :, None, None]) + 11, -128, 100)
    assert np.abs(y - ideal).max() <= 1


@pytest.mark.parametrize("m,k,n,bias,act", [(1, 1, 1, False, 0), (5, 31, 7, True, 0), (3, 96, 40, True, 1)])
def test_dqlinear(m: int, k: int, n: int, bias: bool, act: int) -> None:
    x = f(m, k, scale=2.0) + 0.3
    wf = f(n, k)
    ws = (np.abs(wf).max(axis=1) / 127).astype(np.float32)
    w = np.clip(np.round(wf / ws[:, None]), -127, 127).astype(np.int8)
    ins = [x, w, ws] + ([f(n)] if bias else [])
    y = check("dqlinear", ins, {"act": act}, tuple(range(1, len(ins))))
    ref = x.astype(np.float64) @ (w * ws[:, None]).astype(np.float64).T + (ins[3] if bias else 0)
    if act == Act.RELU:
        ref = np.maximum(ref, 0)
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert err < 0.02  # int8 activations: ~1/255 of the row range per element


def test_row_params() -> None:
    x = np.array([[0, 0, 0], [1, 2, 3], [-3, -1, 0.5]], np.float32)
    q, s, zp = q_quantize_rows(x)
    assert s[0] == 1 and zp[0] == -128 and q[0].tolist() == [-128] * 3
    assert zp[1] == -128 and q[1, 2] == 127
    np.testing.assert_allclose((q.astype(np.float32) - zp[:, None]) * s[:, None], x, atol=s.max() / 2 + 1e-7)


def test_q4_pack_roundtrip() -> None:
    q = rng.integers(-8, 8, (5, 64))
    np.testing.assert_array_equal(q4_unpack(q4_pack(q)), q)


def _q4(n: int, k: int, gs: int) -> tuple[np.ndarray, np.ndarray]:
    q = rng.integers(-8, 8, (n, k))
    sc = rng.uniform(0.001, 0.1, (n, k // gs)).astype(np.float16)
    return q4_pack(q), sc


@pytest.mark.parametrize(
    "m,k,n,gs,bias",
    [
        (1, 32, 1, 32, False),
        (3, 64, 5, 16, True),
        (4, 256, 33, 64, True),
        (2, 1376, 19, 32, True),  # decode GEMV: a ragged 64-byte tail, a ragged 16-column tile
        (20, 1376, 37, 32, False),  # prefill GEMM (AVX-512 VNNI) where present, ragged 32-column tile
        (64, 512, 70, 128, True),
    ],
)
def test_q4linear(m: int, k: int, n: int, gs: int, bias: bool) -> None:
    w, sc = _q4(n, k, gs)
    x = f(m, k)
    ins = [x, w, sc] + ([f(n)] if bias else [])
    y = check("q4linear", ins, {"group_size": gs}, tuple(range(1, len(ins))))
    wf = q4_unpack(w).astype(np.float64) * np.repeat(sc.astype(np.float64), gs, axis=1)
    ref = x.astype(np.float64) @ wf.T + (ins[3] if bias else 0)
    assert np.abs(y - ref).max() / np.abs(ref).max() < 0.02


@pytest.mark.parametrize("idx_dtype", [np.int32, np.int64])
def test_q4embedding(idx_dtype: type) -> None:
    w, sc = _q4(11, 64, 32)
    idx = rng.integers(0, 11, (2, 5)).astype(idx_dtype)
    y = check("q4embedding", [w, sc, idx], {"group_size": 32}, (0, 1))
    assert y.shape == (2, 5, 64)


def test_q4embedding_index_out_of_range() -> None:
    from ember.errors import EmberError

    w, sc = _q4(4, 32, 32)
    with pytest.raises(EmberError, match="out of range"):
        run_one_op("q4embedding", [w, sc, np.array([4], np.int32)], {"group_size": 32}, (0, 1))


def test_int8_max_pool_and_reshape() -> None:
    x = i8(2, 3, 9, 7)
    y = check("max_pool2d", [x], {"kernel_h": 3, "kernel_w": 2, "stride_h": 2, "stride_w": 2, "pad_h": 1}, ())
    assert y.dtype == np.int8
    check("reshape", [x], {"shape": (2, 189)}, ())


def test_f16_conversion_exact() -> None:
    # every finite float16 bit pattern (as group scales) must convert exactly in C
    bits = np.arange(0, 1 << 16, dtype=np.uint16)
    h = bits.view(np.float16)
    h = h[np.isfinite(h)]
    ones = q4_pack(np.ones((h.size, 2), np.int64))
    idx = np.arange(h.size, dtype=np.int32)
    y = check("q4embedding", [ones, h.reshape(-1, 1), idx], {"group_size": 2}, (0, 1))
    np.testing.assert_array_equal(y[:, 0].view(np.uint32), h.astype(np.float32).view(np.uint32))


@pytest.mark.parametrize("seed", range(6))
def test_fast_kernels_equal_reference(seed: int) -> None:
    """The fast int8 GEMM kernels (packed at load) equal the reference kernels bit for bit, through files."""
    from tests.core.helpers import one_op_program

    g = np.random.default_rng(seed)
    m, k, n = int(g.integers(1, 40)), int(g.integers(1, 300)), int(g.integers(1, 50))
    w, b, s = qparams(n, k)
    cases = [
        ("qlinear", [i8(m, k), w, b, s], {"x_zp": 5, "y_zp": -3, "qmin": -3}),
        ("dqlinear", [f(m, k), w, s * 100, f(n)], {"act": Act.RELU}),
    ]
    c, o = int(g.integers(1, 6)), int(g.integers(1, 9))
    wc, bc, sc = qparams(o, c * 9)
    cases.append(
        ("qconv2d", [i8(2, c, 7, 9), wc.reshape(o, c, 3, 3), bc, sc], {"pad_h": 1, "x_zp": -9, "y_zp": 4})
    )
    wd, bd, sd = qparams(c, 9)
    cases.append(
        ("qconv2d", [i8(1, c, 9, 8), wd.reshape(c, 1, 3, 3), bd, sd], {"groups": c, "pad_w": 1, "x_zp": 7})
    )
    gs = 32 << int(g.integers(0, 3))
    wq, sq = _q4(n, gs * int(g.integers(1, 4)), gs)
    cases.append(("q4linear", [f(m, 2 * wq.shape[1]), wq, sq, f(n)], {"group_size": gs}))
    for op, ins, attrs in cases:
        prog = one_op_program(op, ins, attrs, const_inputs=(1, 2, 3))
        fast, ref = prog.load(), prog.load(reference=True)
        np.testing.assert_array_equal(fast(ins[0])[0], ref(ins[0])[0])
        assert fast._p.node_kernel(0).startswith(("q8", "q4"))


def test_q8embedding() -> None:
    w = i8(13, 7, lo=-127)
    s = rng.uniform(0.01, 0.1, 13).astype(np.float32)
    idx = rng.integers(0, 13, (3, 4)).astype(np.int32)
    y = check("q8embedding", [w, s, idx], {}, (0, 1))
    np.testing.assert_allclose(y, w[idx].astype(np.float64) * s[idx][..., None], rtol=1e-6)


def _corrupt_attr(data: bytes, slot: int, value: int) -> bytes:
    from ember.format import layout as L
    from tests.core.helpers import fix_crc, section

    off, _size = section(data, L.SECTION_ATTRS)
    b = bytearray(data)
    b[off + 8 * slot : off + 8 * slot + 8] = int(value).to_bytes(8, "little", signed=True)
    return fix_crc(b)


@pytest.mark.parametrize(
    "op,slot,value",
    [
        ("qlinear", 0, 500),  # x_zp outside int8
        ("qlinear", 3, -5),  # qmax < qmin (qmin is 0)
        ("qconv2d", 6, 0),  # groups 0
        ("qconv2d", 0, 0),  # stride 0
        ("qconv2d", 8, -129),  # y_zp outside int8
        ("q4linear", 0, 3),  # odd group size
        ("q4linear", 0, 64),  # group size that does not match the scales
        ("quantize", 0, 0),  # scale 0
        ("dqlinear", 0, 99),  # unknown activation
    ],
)
def test_loader_rejects_bad_quant_attributes(op: str, slot: int, value: int) -> None:
    """check() validates every attribute: a corrupt file fails to load with a message, never runs."""
    from ember.errors import EmberError
    from ember.runtime import load_bytes
    from tests.core.helpers import one_op_program

    w, b, s = qparams(4, 32)
    ins: dict[str, list[np.ndarray]] = {
        "qlinear": [i8(2, 32), w, b, s],
        "qconv2d": [i8(1, 2, 5, 5), w.reshape(4, 2, 4, 4), b, s],
        "q4linear": [f(2, 32), *_q4(4, 32, 32)],
        "quantize": [f(3, 4)],
        "dqlinear": [f(2, 32), w, s],
    }
    attrs = {"qmin": 0} if op == "qlinear" else {}
    prog = one_op_program(op, ins[op], attrs, const_inputs=tuple(range(1, len(ins[op]))))
    load_bytes(prog.to_bytes())  # the intact file loads
    if op == "quantize":
        value = int(np.array(0.0).view(np.int64))
    with pytest.raises(EmberError):
        load_bytes(_corrupt_attr(prog.to_bytes(), slot, value))


def test_qadd() -> None:
    a, b = i8(3, 5, 7), i8(3, 5, 7)
    attrs = {"a_zp": -3, "b_zp": 9, "y_zp": -2, "a_mult": 0.61, "b_mult": 1.7, "qmin": -2, "qmax": 120}
    y = check("qadd", [a, b], attrs, ())
    ideal = np.clip(
        np.round((a.astype(np.float64) + 3) * 0.61 + (b.astype(np.float64) - 9) * 1.7) - 2, -2, 120
    )
    assert np.abs(y - ideal).max() <= 1


@pytest.mark.parametrize("scheme", ["int8-dynamic", "int4-weight"])
def test_gelu_epilogue_runs_as_its_own_op(scheme: str) -> None:
    """A linear + GELU becomes the quantized linear followed by the fp32 gelu op (vectorized), and the
    result still tracks fp32."""
    import torch

    import ember

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, 32)).eval()
    x = torch.randn(5, 64)
    prog = ember.export(model, (x,))
    q = ember.quantize(prog, scheme=scheme)
    ops = [n.op for n in q.graph.nodes]
    qop = "dqlinear" if scheme == "int8-dynamic" else "q4linear"
    assert ops.count(qop) == 2 and "gelu" in ops, ops
    first = next(n for n in q.graph.nodes if n.op == qop)
    assert first.attrs.get("act", 0) == Act.NONE
    want = model(x).detach().numpy().astype(np.float64)
    (got,) = q.load()(x.numpy())
    cos = float((want.ravel() @ got.ravel()) / (np.linalg.norm(want) * np.linalg.norm(got)))
    assert cos > (0.999 if scheme == "int8-dynamic" else 0.99)
