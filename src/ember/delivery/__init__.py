"""Model delivery: publish signed model variants to a TUF repository, roll them out in stages, and
keep a verified, smoke-tested model on each device.

    from ember.delivery import Registry, DeviceClient

Heavy dependencies (tuf, cryptography) load on first use; install them with `pip install ember[delivery]`.
"""

from __future__ import annotations

from typing import Any

from ember.delivery.errors import (
    DeliveryError,
    DiskBudgetError,
    DownloadError,
    NoCompatibleVariantError,
    NotInstalledError,
    RegistryError,
    ReleaseRollbackError,
    SigningKeyError,
    SmokeTestError,
    UpdateInProgressError,
    VerificationError,
)

_LAZY = {
    "Registry": "ember.delivery.registry",
    "RegistryConfig": "ember.delivery.registry",
    "VariantSpec": "ember.delivery.registry",
    "make_smoke_file": "ember.delivery.registry",
    "Requirements": "ember.delivery.manifest",
    "DeviceClient": "ember.delivery.client",
    "UpdateResult": "ember.delivery.client",
    "DeviceProfile": "ember.delivery.device",
    "detect_device": "ember.delivery.device",
    "SmokeTest": "ember.delivery.smoke",
    "DevServer": "ember.delivery.server",
    "serve": "ember.delivery.server",
}

__all__ = [
    "DeliveryError",
    "DiskBudgetError",
    "DownloadError",
    "NoCompatibleVariantError",
    "NotInstalledError",
    "RegistryError",
    "ReleaseRollbackError",
    "SigningKeyError",
    "SmokeTestError",
    "UpdateInProgressError",
    "VerificationError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ember.delivery' has no attribute {name!r}")
    import importlib

    attr = "detect" if name == "detect_device" else name
    return getattr(importlib.import_module(module), attr)
