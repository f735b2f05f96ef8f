"""On-device feature store: events logged on the device become the features a model consumes.

    from ember.features import FeatureStore, Feature, FeatureSpec
    fs = FeatureStore("features.db")
    fs.log("click", entity="item:42", value=1.0, attrs={"surface": "feed"})
    x = fs.vector(spec, entity="user:1")

The device path needs only sqlite3 (stdlib) and numpy. The offline engine
(`ember.features.offline`) needs duckdb and pandas, imported when used.
"""

from __future__ import annotations

from ember.features.errors import FeatureSpecError, FeatureStoreError, SchemaVersionError
from ember.features.spec import Feature, FeatureSpec
from ember.features.store import EvictionReport, FeatureStore, ForgetReport, ServedVector

__all__ = [
    "EvictionReport",
    "Feature",
    "FeatureSpec",
    "FeatureSpecError",
    "FeatureStore",
    "FeatureStoreError",
    "ForgetReport",
    "SchemaVersionError",
    "ServedVector",
]
