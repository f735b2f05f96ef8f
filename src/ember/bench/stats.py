"""Order statistics over timing samples. Plain Python, so the numbers do not depend on numpy's version;
`percentile` uses the same linear interpolation as numpy.percentile's default method."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks (numpy's 'linear')."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within [0, 100], got {q}")
    xs = sorted(float(x) for x in samples)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    frac = pos - lo
    return xs[lo] + (xs[hi] - xs[lo]) * frac


@dataclass(frozen=True)
class Summary:
    """Statistics of one series of timings, all in the samples' unit (milliseconds here)."""

    n: int
    min: float
    median: float
    p90: float
    p99: float
    max: float
    mean: float
    stdev: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("no samples to summarize")
    xs = [float(x) for x in samples]
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    return Summary(
        n=n,
        min=min(xs),
        median=percentile(xs, 50),
        p90=percentile(xs, 90),
        p99=percentile(xs, 99),
        max=max(xs),
        mean=mean,
        stdev=math.sqrt(var),
    )
