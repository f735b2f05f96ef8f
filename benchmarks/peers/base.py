"""What every compared system provides."""

from __future__ import annotations

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
    """Base class. `key` is the short name used on the command line; `title` the one in reports."""

    key = "base"
    title = "base"

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
