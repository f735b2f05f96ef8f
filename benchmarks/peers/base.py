"""What every compared system provides."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# A runner does one inference on the inputs it was bound to and returns every output as numpy.
Runner = Callable[[], list[np.ndarray]]


@dataclass
class Case:
    """One model at one input shape: the torch module, its example inputs (torch and numpy)."""

    key: str
    title: str
    model: Any  # torch.nn.Module
    inputs: tuple[Any, ...]  # torch tensors
    np_inputs: list[np.ndarray] = field(default_factory=list)
    fingerprint: str = ""  # hash of the model's code, weights and inputs: the key of converted-file caches

    def __post_init__(self) -> None:
        if not self.np_inputs:
            self.np_inputs = [np.ascontiguousarray(t.detach().cpu().numpy()) for t in self.inputs]


def flatten_outputs(out: Any) -> list[Any]:
    """A model's outputs (tensor, tuple, list, dict, HF ModelOutput) as a flat list."""
    if isinstance(out, (tuple, list)):
        return [y for x in out for y in flatten_outputs(x)]
    if isinstance(out, dict):
        return [y for x in out.values() for y in flatten_outputs(x)]
    return [out]


def to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class System:
    """Base class. `key` is the short name used on the command line; `title` the one in reports.
    Systems whose conversion is slow keep converted files in `cache_dir`, keyed by the case's fingerprint
    and their own version (see `cached` and `store`)."""

    key = "base"
    title = "base"
    cache_dir: Path | None = None

    def cache_path(self, case: Case, suffix: str) -> Path | None:
        if self.cache_dir is None or not case.fingerprint:
            return None
        ver = (self.version() or "unknown").replace(" ", "_").replace("/", "_")
        return self.cache_dir / f"{case.key}-{case.fingerprint[:20]}-{self.key}-{ver}{suffix}"

    def cached(self, case: Case, suffix: str) -> tuple[Path, dict[str, Any]] | None:
        """(file, the facts stored with it) when a converted file for this exact model is cached."""
        path = self.cache_path(case, suffix)
        if path is None or not path.exists() or not path.with_suffix(".json").exists():
            return None
        try:
            info = json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None
        return path, {**info, "cached": True}

    def store(self, case: Case, suffix: str, data: bytes, info: dict[str, Any]) -> None:
        path = self.cache_path(case, suffix)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, blob in ((path, data), (path.with_suffix(".json"), json.dumps(info).encode())):
            tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, target)

    def unavailable(self) -> str | None:
        """Why this system cannot run here (a missing package...), or None."""
        return None

    def version(self) -> str | None:
        return None

    def set_threads(self, threads: int) -> None:
        """Process-wide thread settings, applied before `load` for each thread count."""

    def prepare(self, case: Case, workdir: Path) -> dict[str, Any]:
        """Convert the model once (export, lower, serialize). Returns facts for the report."""
        return {}

    def load(self, case: Case, threads: int) -> Runner:
        raise NotImplementedError

    def release(self, case: Case) -> None:
        """Drop what `prepare` kept for this case."""
