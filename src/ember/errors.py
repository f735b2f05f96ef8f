"""Errors raised by Ember. Every message says what was expected, what was found, and what to do."""

from __future__ import annotations


class EmberError(Exception):
    """Base class of every error Ember raises on purpose."""


class FormatError(EmberError):
    """A .ember file is corrupt, truncated, of another version, or otherwise not loadable."""


class UnsupportedOpError(EmberError):
    """The model uses an operator (or dtype) that Ember cannot run. Raised at export, never on device."""


class ShapeError(EmberError):
    """Inputs have the wrong count, shape or dtype, or the model needs a shape Ember does not support."""


class RuntimeFailure(EmberError):
    """The C runtime reported a failure while running (for example an index out of range)."""


class ExportError(EmberError):
    """torch.export could not capture the model, or the captured program cannot be lowered."""
