"""Weight quantizers: int8 symmetric per output channel, int4 symmetric per group (float16 scales)."""

from __future__ import annotations

import numpy as np

from ember.ir.ops import q4_pack


def int8_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """w[O, ...] -> (int8 values in [-127, 127], float32 scale[O]); scale = max|w[o]| / 127."""
    w2 = np.asarray(w, np.float64).reshape(w.shape[0], -1)
    amax = np.abs(w2).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w2 / scale[:, None].astype(np.float64)), -127, 127).astype(np.int8)
    return q.reshape(w.shape), scale


def int4_groupwise(w: np.ndarray, group_size: int, search: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """w[N, K] -> (packed uint8 [N, K/2], float16 scales [N, K/group]); values in [-8, 7].

    The scale of each group is chosen among max|w|/7 * c for c in a small grid (c <= 1 clips the
    largest weights a little) to minimize the group's squared error, with the float16-rounded scale
    actually stored."""
    n, k = w.shape
    g = np.asarray(w, np.float64).reshape(n, k // group_size, group_size)
    amax = np.abs(g).max(axis=2, keepdims=True)
    best_s = None
    best_err = None
    grid = np.linspace(1.0, 0.7, 13) if search else [1.0]
    for c in grid:
        # max|w| / 7.5 * c reaches -8 on the negative side; 7 caps the positive side
        for div in (7.0, 7.5):
            s = (amax / div * c).astype(np.float16).astype(np.float64)
            s = np.where(s > 0, s, 1.0)
            q = np.clip(np.rint(g / s), -8, 7)
            err = ((q * s - g) ** 2).sum(axis=2, keepdims=True)
            if best_err is None:
                best_s, best_err = s, err
            else:
                better = err < best_err
                best_s = np.where(better, s, best_s)
                best_err = np.where(better, err, best_err)
    assert best_s is not None
    q = np.clip(np.rint(g / best_s), -8, 7).astype(np.int64).reshape(n, k)
    return q4_pack(q), best_s[..., 0].astype(np.float16)


def dequant_int4(packed: np.ndarray, scales: np.ndarray, group_size: int) -> np.ndarray:
    from ember.ir.ops import q4_unpack

    q = q4_unpack(packed).astype(np.float32)
    return q * np.repeat(scales.astype(np.float32), group_size, axis=1)


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64)
    err = np.asarray(got, np.float64) - ref
    num, den = float((ref**2).sum()), float((err**2).sum())
    if den == 0:
        return float("inf")
    if num == 0:
        return float("-inf")
    return 10.0 * np.log10(num / den)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(a @ b / (na * nb))
