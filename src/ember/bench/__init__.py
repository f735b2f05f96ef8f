"""Benchmark tools: `ember bench model.ember` (cli.py, model.py), statistics (stats.py), the per-op
profile table (profile.py), the machine's description (machine.py) and its limits: fp32 FMA peak and
memory bandwidth (limits.py). Only numpy and the standard library are imported at module level;
rich/tqdm/psutil are optional and imported where used.
"""

from __future__ import annotations

from ember.bench.stats import Summary, percentile, summarize

__all__ = ["Summary", "percentile", "summarize"]
