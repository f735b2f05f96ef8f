"""Errors of model delivery. Each message says what was expected, what was found, and what to do."""

from __future__ import annotations

from ember.errors import EmberError


class DeliveryError(EmberError):
    """Base class of every delivery error."""


class RegistryError(DeliveryError):
    """The publisher-side repository is missing, inconsistent, or an operation on it is not allowed."""


class SigningKeyError(DeliveryError):
    """A signing key is missing, unreadable, or not the one the repository trusts."""


class VerificationError(DeliveryError):
    """Metadata or a model file failed TUF verification (signature, version, expiry, length, hash)."""


class ReleaseRollbackError(VerificationError):
    """Signed metadata points to a release counter lower than one this device already installed."""


class NoCompatibleVariantError(DeliveryError):
    """No variant of the release fits this device (ISA features, RAM, runtime or format version)."""


class DownloadError(DeliveryError):
    """The server could not be reached or refused a request."""


class DiskBudgetError(DeliveryError):
    """A download would exceed the cache's disk budget, or the disk filled up while writing."""


class SmokeTestError(DeliveryError):
    """A downloaded model failed to load, crashed, or produced outputs outside the signed tolerance."""


class UpdateInProgressError(DeliveryError):
    """Another process or thread is already updating this cache."""


class NotInstalledError(DeliveryError):
    """No verified model of that name has ever been installed on this device."""
