"""Observers: watch a tensor's values over calibration batches and choose its quantization range.

All observers keep the exact min/max and a bounded random sample of the values (at most
`max_samples`, drawn with a fixed seed so calibration is deterministic); percentile and MSE-optimal
clipping work on that sample. `range()` returns (lo, hi) with lo <= 0 <= hi, so 0 is exactly
representable (zero padding, ReLU outputs).
"""

from __future__ import annotations

import numpy as np

OBSERVERS = ("minmax", "moving_average", "percentile", "mse")


class Observer:
    def __init__(self, max_samples: int = 1 << 17, seed: int = 0) -> None:
        self.lo = np.inf
        self.hi = -np.inf
        self.max_samples = max_samples
        self._rng = np.random.default_rng(seed)
        self._parts: list[np.ndarray] = []
        self._n = 0
        self.batches = 0

    def observe(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32).ravel()
        x = x[np.isfinite(x)]
        if x.size == 0:
            return
        self.batches += 1
        self._update_range(float(x.min()), float(x.max()))
        take = min(x.size, max(1, self.max_samples // 8))
        self._parts.append(x if take == x.size else self._rng.choice(x, take, replace=False))
        self._n += take
        if self._n > 2 * self.max_samples:
            s = np.concatenate(self._parts)
            self._parts = [self._rng.choice(s, self.max_samples, replace=False)]
            self._n = self.max_samples

    def _update_range(self, lo: float, hi: float) -> None:
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)

    def sample(self) -> np.ndarray:
        return np.concatenate(self._parts) if self._parts else np.zeros(1, np.float32)

    def _raw_range(self) -> tuple[float, float]:
        return self.lo, self.hi

    def range(self) -> tuple[float, float]:
        if self.batches == 0:
            return 0.0, 0.0
        lo, hi = self._raw_range()
        return min(float(lo), 0.0), max(float(hi), 0.0)


class MinMaxObserver(Observer):
    """The full observed range: no clipping, so nothing saturates on calibration data."""


class MovingAverageObserver(Observer):
    """Exponential moving average of per-batch min and max (momentum 0.01 as in PyTorch)."""

    def __init__(self, momentum: float = 0.01, **kw: int) -> None:
        super().__init__(**kw)
        self.momentum = momentum
        self.avg_lo = 0.0
        self.avg_hi = 0.0

    def _update_range(self, lo: float, hi: float) -> None:
        if self.batches == 1:
            self.avg_lo, self.avg_hi = lo, hi
        else:
            self.avg_lo += self.momentum * (lo - self.avg_lo)
            self.avg_hi += self.momentum * (hi - self.avg_hi)
        super()._update_range(lo, hi)

    def _raw_range(self) -> tuple[float, float]:
        return self.avg_lo, self.avg_hi


class PercentileObserver(Observer):
    """Clip at the given percentile of the sample at each end (default 99.99)."""

    def __init__(self, percentile: float = 99.99, **kw: int) -> None:
        super().__init__(**kw)
        self.percentile = percentile

    def _raw_range(self) -> tuple[float, float]:
        s = self.sample()
        return float(np.percentile(s, 100 - self.percentile)), float(np.percentile(s, self.percentile))


def quant_mse(x: np.ndarray, lo: float, hi: float, levels: int = 255) -> float:
    """Mean squared error of asymmetric uniform quantization of x to [lo, hi] with levels + 1 steps."""
    scale = (hi - lo) / levels if hi > lo else 1.0
    zp = np.round(-lo / scale)
    q = np.clip(np.round(x / scale) + zp, 0, levels)
    return float(np.mean(((q - zp) * scale - x) ** 2))


class MSEObserver(Observer):
    """MSE-optimal clipping: shrink [min, max] toward 0 by a factor in (0.2, 1] and keep the one
    with the smallest quantization error on the sample (saturation error included)."""

    def __init__(self, steps: int = 60, **kw: int) -> None:
        super().__init__(**kw)
        self.steps = steps

    def _raw_range(self) -> tuple[float, float]:
        s = self.sample().astype(np.float64)
        lo, hi = min(self.lo, 0.0), max(self.hi, 0.0)
        best = (np.inf, lo, hi)
        for a in np.linspace(1.0, 0.2, self.steps):
            err = quant_mse(s, lo * a, hi * a)
            if err < best[0]:
                best = (err, lo * a, hi * a)
        return best[1], best[2]


def make_observer(kind: str) -> Observer:
    kinds = {
        "minmax": MinMaxObserver,
        "moving_average": MovingAverageObserver,
        "percentile": PercentileObserver,
        "mse": MSEObserver,
    }
    if kind not in kinds:
        raise ValueError(f"unknown observer {kind!r}; choose one of {', '.join(OBSERVERS)}")
    return kinds[kind]()


def affine_params(lo: float, hi: float) -> tuple[float, int]:
    """int8 asymmetric (scale, zero point) for the range [lo, hi] (lo <= 0 <= hi)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0
    if not (scale > 1e-12 and np.isfinite(scale)):
        return 1.0, 0
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return float(np.float32(scale)), zp
