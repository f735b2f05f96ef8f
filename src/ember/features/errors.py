"""Errors of the feature store. Each message says what was expected, what was found, and what to do."""

from __future__ import annotations

from ember.errors import EmberError


class FeatureStoreError(EmberError):
    """The feature store cannot do what was asked (bad argument, bad file, storage failure)."""


class FeatureSpecError(FeatureStoreError):
    """A Feature or FeatureSpec is malformed: unknown aggregation, bad window, bad filter, bad JSON."""


class SchemaVersionError(FeatureStoreError):
    """The database was written by a newer Ember (or is not a feature store). The file is left untouched."""
