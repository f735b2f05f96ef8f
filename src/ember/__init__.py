"""Ember: export a PyTorch model to one .ember file and run it in a lean C runtime.

`import ember` needs only numpy. Exporting (`ember.export`) needs torch, imported on first use.
"""

from __future__ import annotations

from typing import Any

from ember.errors import (
    EmberError,
    ExportError,
    FormatError,
    RuntimeFailure,
    ShapeError,
    UnsupportedOpError,
)

__version__ = "0.1.0"

__all__ = [
    "EmberError",
    "ExportError",
    "FormatError",
    "RuntimeFailure",
    "ShapeError",
    "UnsupportedOpError",
    "aligned_empty",
    "export",
    "load",
    "quantize",
    "__version__",
]


def export(model: Any, example_inputs: tuple[Any, ...], **options: Any) -> Any:
    """Capture `model` with torch.export, lower and optimize it. Returns an `ember.Program`."""
    from ember.frontend.export import export as _export

    return _export(model, example_inputs, **options)


def load(path: Any, threads: int | None = None, verify: bool = True, reference: bool = False) -> Any:
    """Load a .ember file into the C runtime (mmap, weights used in place). Returns an `ember.Module`."""
    from ember.runtime import load as _load

    return _load(path, threads=threads, verify=verify, reference=reference)


def aligned_empty(shape: tuple[int, ...], dtype: Any = "float32") -> Any:
    """An uninitialized numpy array starting on a 64-byte boundary: a model reads such inputs in place."""
    from ember.runtime import aligned_empty as _aligned_empty

    return _aligned_empty(tuple(shape), dtype)


def quantize(program: Any, **options: Any) -> Any:
    """Quantize an exported `ember.Program` (schemes: int8, int8-dynamic, int4-weight, auto)."""
    from ember.quant import quantize as _quantize

    return _quantize(program, **options)
