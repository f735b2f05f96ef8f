"""Smoke test: load a downloaded model, run the signed test input, compare with the signed output.

`SmokeTest(loader)` works with any loader that maps a path to a callable `module(*arrays) -> tuple`;
the default loader is `ember.load`. Tests inject a stand-in format through the same door.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ember.delivery.errors import SmokeTestError

Loader = Callable[[Path], Callable[..., Any]]


def _ember_load(path: Path):
    import ember

    return ember.load(str(path))


def read_smoke_file(path: Path) -> tuple[list, list]:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        inputs = [z[f"input_{i}"] for i in range(len(z.files)) if f"input_{i}" in z.files]
        expected = [z[f"expected_{i}"] for i in range(len(z.files)) if f"expected_{i}" in z.files]
    return inputs, expected


class SmokeTest:
    """Callable `(model_path, smoke_path, rtol, atol) -> None`; raises SmokeTestError on any failure."""

    def __init__(self, loader: Loader | None = None):
        self.loader = loader or _ember_load

    def __call__(self, model_path: Path, smoke_path: Path, rtol: float, atol: float) -> None:
        import numpy as np

        try:
            inputs, expected = read_smoke_file(smoke_path)
        except Exception as exc:
            raise SmokeTestError(
                f"smoke-test file {smoke_path} is unreadable ({exc}); re-publish it."
            ) from None
        try:
            module = self.loader(Path(model_path))
            outputs = module(*inputs)
        except Exception as exc:
            raise SmokeTestError(
                f"model {model_path} failed to load or run its smoke test: {type(exc).__name__}: {exc}. "
                "It was not activated; the previous model stays in use."
            ) from None
        if not isinstance(outputs, (tuple, list)):
            outputs = (outputs,)
        if len(outputs) != len(expected):
            raise SmokeTestError(
                f"model {model_path} returned {len(outputs)} outputs, the signed smoke test expects "
                f"{len(expected)}; it was not activated."
            )
        for i, (got, want) in enumerate(zip(outputs, expected, strict=False)):
            got = np.asarray(got)
            if got.shape != want.shape:
                raise SmokeTestError(
                    f"model {model_path} output {i} has shape {got.shape}, expected {want.shape}; "
                    "it was not activated."
                )
            if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=False):
                err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
                raise SmokeTestError(
                    f"model {model_path} output {i} differs from the signed expected output by up to "
                    f"{err:.3g} (allowed rtol={rtol}, atol={atol}); it was not activated."
                )
