"""The signed facts about releases: what lives in the custom fields of targets metadata, and how a
device reads them (variant choice, rollout membership).

Target paths in the repository:
  <model>/releases/<release>.json             release manifest; custom field lists the variants
  <model>/r<release>/<variant>/<file>         a variant's model bytes
  <model>/r<release>/<variant>/smoke.npz      its smoke-test input and expected output
  rollout/<model>/<channel>.json              rollout state (delegated "rollout" role, online key)
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

from ember.delivery.device import DeviceProfile
from ember.delivery.errors import NoCompatibleVariantError, RegistryError, VerificationError

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _suggest(value: str) -> str:
    return re.sub(r"[^a-z0-9._-]", "-", value.lower()).strip(".-") or "model"


def check_name(kind: str, value: str) -> str:
    """Model, channel and variant names become path parts: keep them to a safe alphabet."""
    if not _NAME.match(value or "") or ".." in value:
        raise RegistryError(
            f"{kind} name {value!r} is not allowed: expected 1-64 characters of a-z, 0-9, '.', '_', '-' "
            f"starting with a letter or digit. Rename it, e.g. {_suggest(value)!r}."
        )
    return value


def release_path(model: str, release: int) -> str:
    return f"{model}/releases/{release}.json"


def variant_path(model: str, release: int, variant: str, filename: str) -> str:
    return f"{model}/r{release}/{variant}/{filename}"


def rollout_path(model: str, channel: str) -> str:
    return f"rollout/{model}/{channel}.json"


def parse_version(text: str) -> tuple[int, ...]:
    """'0.10.2rc1' -> (0, 10, 2): numeric parts only, for >= comparisons."""
    parts = []
    for piece in str(text).split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts) or (0,)


@dataclasses.dataclass(frozen=True)
class Requirements:
    isa: tuple[str, ...] = ()
    min_ram_mb: int = 0
    min_runtime: str = "0"
    min_format: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "isa": list(self.isa),
            "min_ram_mb": self.min_ram_mb,
            "min_runtime": self.min_runtime,
            "min_format": self.min_format,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Requirements:
        return cls(
            isa=tuple(sorted(d.get("isa", ()))),
            min_ram_mb=int(d.get("min_ram_mb", 0)),
            min_runtime=str(d.get("min_runtime", "0")),
            min_format=int(d.get("min_format", 0)),
        )

    def unmet(self, device: DeviceProfile) -> list[str]:
        """Human-readable reasons this device does not meet these requirements (empty if it does)."""
        why = []
        missing = sorted(set(self.isa) - set(device.isa))
        if missing:
            why.append(f"needs ISA features {missing}, device has {sorted(device.isa)}")
        if device.ram_mb < self.min_ram_mb:
            why.append(f"needs {self.min_ram_mb} MiB RAM, device has {device.ram_mb} MiB")
        if parse_version(device.runtime_version) < parse_version(self.min_runtime):
            why.append(f"needs Ember runtime >= {self.min_runtime}, device has {device.runtime_version}")
        if device.format_version < self.min_format:
            why.append(f"needs .ember format >= {self.min_format}, device reads {device.format_version}")
        return why


@dataclasses.dataclass(frozen=True)
class VariantInfo:
    """One variant as signed in a release manifest."""

    name: str
    path: str  # target path of the model bytes
    smoke_path: str  # target path of the smoke-test npz
    requires: Requirements
    rtol: float = 1e-4
    atol: float = 1e-5

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            # canonical JSON (what TUF signs) has no floats: tolerances travel as decimal strings
            "smoke": {"path": self.smoke_path, "rtol": repr(self.rtol), "atol": repr(self.atol)},
            "requires": self.requires.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VariantInfo:
        smoke = d["smoke"]
        return cls(
            name=str(d["name"]),
            path=str(d["path"]),
            smoke_path=str(smoke["path"]),
            requires=Requirements.from_dict(d.get("requires", {})),
            rtol=float(smoke.get("rtol", 1e-4)),
            atol=float(smoke.get("atol", 1e-5)),
        )


@dataclasses.dataclass(frozen=True)
class ReleaseInfo:
    model: str
    version: str
    channel: str
    release: int
    variants: tuple[VariantInfo, ...]
    rollback_of: int | None = None  # a rollback release re-publishes this release's bytes ...
    replaces: int | None = None  # ... in place of this (bad) one

    def to_custom(self) -> dict[str, Any]:
        return {
            "ember": {
                "kind": "release",
                "model": self.model,
                "version": self.version,
                "channel": self.channel,
                "release": self.release,
                "rollback_of": self.rollback_of,
                "replaces": self.replaces,
                "variants": [v.to_dict() for v in self.variants],
            }
        }

    @classmethod
    def from_custom(cls, custom: Any, where: str) -> ReleaseInfo:
        try:
            e = custom["ember"]
            if e["kind"] != "release":
                raise ValueError(f"kind is {e['kind']!r}")
            return cls(
                model=str(e["model"]),
                version=str(e["version"]),
                channel=str(e["channel"]),
                release=int(e["release"]),
                variants=tuple(VariantInfo.from_dict(v) for v in e["variants"]),
                rollback_of=e.get("rollback_of"),
                replaces=e.get("replaces"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(
                f"signed target {where} does not hold an Ember release manifest ({exc}); "
                "the repository was written by another tool or an incompatible Ember: re-publish with "
                "`ember registry publish`."
            ) from None


@dataclasses.dataclass(frozen=True)
class RolloutState:
    model: str
    channel: str
    release: int  # newest release of the channel (the head); only ever grows
    percent: float
    halted: bool = False
    base: int | None = None  # release every device outside the rollout should run

    def to_custom(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["percent"] = repr(float(self.percent))  # canonical JSON has no floats
        return {"ember": {"kind": "rollout", **d}}

    @classmethod
    def from_custom(cls, custom: Any, where: str) -> RolloutState:
        try:
            e = dict(custom["ember"])
            if e.pop("kind") != "rollout":
                raise ValueError("not a rollout state")
            return cls(
                model=str(e["model"]),
                channel=str(e["channel"]),
                release=int(e["release"]),
                percent=float(e["percent"]),
                halted=bool(e.get("halted", False)),
                base=None if e.get("base") is None else int(e["base"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(
                f"signed target {where} does not hold an Ember rollout state ({exc}); "
                "re-run `ember registry rollout` on the publisher."
            ) from None

    def target_release(self, device_id: str) -> int | None:
        """The release this device should run: the head if it is in the rollout, else the base."""
        if not self.halted and in_rollout(device_id, self.model, self.release, self.percent):
            return self.release
        return self.base


def rollout_bucket(device_id: str, model: str, release: int) -> float:
    """A stable number in [0, 100) for (device, model, release): the device is in the rollout when the
    bucket is below the percentage, so raising the percentage only ever adds devices."""
    digest = hashlib.sha256(f"{device_id}\x00{model}\x00{release}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


def in_rollout(device_id: str, model: str, release: int, percent: float) -> bool:
    return rollout_bucket(device_id, model, release) < percent


def select_variant(release: ReleaseInfo, device: DeviceProfile) -> VariantInfo:
    """The most specific variant this device can run (most ISA features, then most RAM, then publish
    order). Raises NoCompatibleVariantError listing why each variant was refused."""
    fits = [v for v in release.variants if not v.requires.unmet(device)]
    if not fits:
        reasons = "; ".join(f"{v.name}: {', '.join(v.requires.unmet(device))}" for v in release.variants)
        raise NoCompatibleVariantError(
            f"no variant of {release.model} release {release.release} fits this device "
            f"({reasons or 'the release has no variants'}). Publish a variant without those "
            "requirements (e.g. a scalar fallback), or exclude this device class from the channel."
        )
    order = {v.name: i for i, v in enumerate(release.variants)}
    return max(fits, key=lambda v: (len(v.requires.isa), v.requires.min_ram_mb, -order[v.name]))
