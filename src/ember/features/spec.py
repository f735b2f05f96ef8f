"""Feature and FeatureSpec: what a model consumes, as plain, versioned, JSON-serializable data.

A `Feature` names one column (or, for ``last_n``, a fixed run of columns) of the vector a model
reads; a `FeatureSpec` is an ordered, named, versioned list of them. The spec is the contract
between the device (`FeatureStore.vector`) and training (`ember.features.offline`): both compute
exactly the semantics written here.

Semantics, pinned down:

* time is integer microseconds since the epoch (`to_micros`); a window ``w`` evaluated at time
  ``at`` holds the events with ``at - w < ts <= at``; without a window, every event with
  ``ts <= at``. Events later than ``at`` are never seen (point-in-time correctness).
* ``scope="entity"`` (the default) reads the events logged for the requested entity;
  ``scope="any"`` reads the events of every entity on the device (the default for
  ``count_distinct`` with ``key="entity"``, which would otherwise always be 0 or 1).
* ``where`` keeps events whose ``attrs[name]`` equals the given value (or one of a list).
* ``last``/``last_n`` order events by timestamp, ties broken by logging order (latest wins);
  ``last_n`` fills ``n`` columns, most recent first.
* a window with no matching event gives ``default`` in every column of that feature.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ember.features.errors import FeatureSpecError

SPEC_FORMAT = "ember.features.spec"
SPEC_FORMAT_VERSION = 1
BESIDE_SUFFIX = ".features.json"

AGGREGATIONS = ("count", "sum", "mean", "min", "max", "last", "last_n", "count_distinct")
SCOPES = ("entity", "any")
MAX_LAST_N = 1024

_UNIT_SECONDS = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mo": 30 * 86400,  # a month is 30 days: fixed length, so device and training agree
    "y": 365 * 86400,
}
_WINDOW_RE = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|mo|y)\s*$")
_LAST_N_RE = re.compile(r"^last[-_]?(\d+)$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-]*$")

Scalar = str | int | float | bool


def to_micros(ts: float) -> int:
    """Seconds since the epoch (float) to integer microseconds, round-half-even (same as numpy.rint)."""
    return int(round(float(ts) * 1_000_000.0))


def parse_window(window: str | int | None) -> int | None:
    """A window ("90s", "15m", "1h", "7d", "2w", "3mo", "1y", or int seconds) in microseconds."""
    if window is None:
        return None
    if isinstance(window, bool):
        raise FeatureSpecError(f"window must be a string like '7d' or int seconds, found {window!r}")
    if isinstance(window, int):
        seconds = window
    else:
        m = _WINDOW_RE.match(str(window).lower())
        if not m:
            raise FeatureSpecError(
                f"window {window!r} is not understood: expected <integer><unit> with unit one of "
                f"{', '.join(_UNIT_SECONDS)} (for example '90s', '1h', '7d', '3mo'), or int seconds"
            )
        seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds <= 0:
        raise FeatureSpecError(f"window must be positive, found {window!r}; omit it for 'all time'")
    return seconds * 1_000_000


def _canonical_window(window: str | int | None) -> str | None:
    if window is None:
        return None
    parse_window(window)
    if isinstance(window, int):
        return f"{window}s"
    return re.sub(r"\s+", "", str(window).lower())


def _check_scalar(feature: str, attr: str, v: Any) -> Scalar:
    if isinstance(v, float) and not math.isfinite(v):
        raise FeatureSpecError(f"feature {feature!r}: where[{attr!r}] must be finite, found {v!r}")
    if not isinstance(v, str | int | float | bool):
        raise FeatureSpecError(
            f"feature {feature!r}: where[{attr!r}] must be a string, number or bool (or a list of them), "
            f"found {type(v).__name__} {v!r}"
        )
    return v


def _normalize_where(feature: str, where: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    if not where:
        return ()
    if not isinstance(where, Mapping):
        raise FeatureSpecError(
            f"feature {feature!r}: where must be a dict of attribute -> value, found {where!r}"
        )
    out = []
    for k in sorted(where):
        v = where[k]
        if not isinstance(k, str) or not k:
            raise FeatureSpecError(f"feature {feature!r}: where keys must be attribute names, found {k!r}")
        if isinstance(v, list | tuple | set | frozenset):
            vals = tuple(_check_scalar(feature, k, x) for x in v)
            if not vals:
                raise FeatureSpecError(f"feature {feature!r}: where[{k!r}] is an empty list; nothing matches")
            out.append((k, tuple(sorted(set(vals), key=lambda x: (type(x).__name__, x)))))
        else:
            out.append((k, _check_scalar(feature, k, v)))
    return tuple(out)


def matches(attrs: Mapping[str, Any] | None, where: tuple[tuple[str, Any], ...]) -> bool:
    """The one definition of attribute filtering, used on the device and offline alike."""
    if not where:
        return True
    if not attrs:
        return False
    for k, want in where:
        if k not in attrs:
            return False
        got = attrs[k]
        if isinstance(want, tuple):
            if not any(_eq(got, w) for w in want):
                return False
        elif not _eq(got, want):
            return False
    return True


def _eq(got: Any, want: Scalar) -> bool:
    """JSON equality: strings equal strings, booleans equal booleans, numbers equal numbers (1 == 1.0)."""
    if isinstance(got, list | dict):
        return False
    if isinstance(got, str) != isinstance(want, str) or isinstance(got, bool) != isinstance(want, bool):
        return False
    return got == want


_KEY_ENC = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_MISSING = object()


def distinct_key(key: str, entity: str, value: float, attrs: Mapping[str, Any] | None) -> str | None:
    """The canonical text of the value that `count_distinct` counts (None: the event has no such key)."""
    if key == "entity":
        return entity
    if key == "value":
        return repr(float(value))
    if not attrs:
        return None
    v = attrs.get(key[6:], _MISSING)  # key is "attrs.<name>"
    if v is _MISSING:
        return None
    t = type(v)
    if t is int:
        return str(v)  # what JSON would write, without the encoder's overhead
    if t is str:
        return _KEY_ENC.encode(v)
    return _KEY_ENC.encode(v)


@dataclass(frozen=True)
class Feature:
    """One feature: aggregate `agg` of the `value`s of `event` events over `window`.

    agg: count, sum, mean, min, max, last, last_n (with n, or spelled "last-5"), count_distinct (with
    key = "entity", "value" or "attrs.<name>"). window: "30s".."3mo", int seconds, or None (all time).
    where: {"attr": value or [values]}. scope: "entity" or "any". default: value for an empty window.
    """

    name: str
    event: str
    agg: str = "count"
    window: str | int | None = None
    key: str | None = None
    n: int | None = None
    where: Any = None
    scope: str | None = None
    default: float = 0.0
    window_us: int | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise FeatureSpecError(
                f"feature name must be an identifier-like string (letters, digits, _ . : -), "
                f"found {self.name!r}"
            )
        if not isinstance(self.event, str) or not self.event:
            raise FeatureSpecError(f"feature {self.name!r}: event must be a non-empty string")
        agg = str(self.agg).lower()
        n = self.n
        m = _LAST_N_RE.match(agg)
        if m:
            if n is not None and n != int(m.group(1)):
                raise FeatureSpecError(f"feature {self.name!r}: agg {self.agg!r} disagrees with n={n}")
            agg, n = "last_n", int(m.group(1))
        if agg not in AGGREGATIONS:
            raise FeatureSpecError(
                f"feature {self.name!r}: unknown aggregation {self.agg!r}; expected one of "
                f"{', '.join(AGGREGATIONS)} (last_n as agg='last_n', n=5 or agg='last-5')"
            )
        if agg == "last_n":
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_LAST_N:
                raise FeatureSpecError(
                    f"feature {self.name!r}: last_n needs n, an int in 1..{MAX_LAST_N}, found {n!r}"
                )
        elif n is not None:
            raise FeatureSpecError(f"feature {self.name!r}: n is only for last_n, found n={n!r} with {agg}")
        key = self.key
        if agg == "count_distinct":
            if key is None:
                raise FeatureSpecError(
                    f"feature {self.name!r}: count_distinct needs key='entity', 'value' or 'attrs.<name>'"
                )
            if key.startswith("attr:"):
                key = "attrs." + key[5:]
            if key not in ("entity", "value") and not (key.startswith("attrs.") and len(key) > 6):
                raise FeatureSpecError(
                    f"feature {self.name!r}: key {self.key!r} unknown; "
                    f"use 'entity', 'value' or 'attrs.<name>'"
                )
        elif key is not None:
            raise FeatureSpecError(
                f"feature {self.name!r}: key is only for count_distinct, found key={key!r}"
            )
        scope = self.scope
        if scope is None:
            scope = "any" if (agg == "count_distinct" and key == "entity") else "entity"
        if scope not in SCOPES:
            raise FeatureSpecError(f"feature {self.name!r}: scope must be 'entity' or 'any', found {scope!r}")
        if agg == "count_distinct" and key == "entity" and scope == "entity":
            raise FeatureSpecError(
                f"feature {self.name!r}: count_distinct of key='entity' within one entity is always 0 or 1; "
                f"use scope='any' (count distinct entities over all events on the device)"
            )
        try:
            default = float(self.default)
        except (TypeError, ValueError):
            raise FeatureSpecError(
                f"feature {self.name!r}: default must be a number, found {self.default!r}"
            ) from None
        if math.isinf(default):
            raise FeatureSpecError(f"feature {self.name!r}: default must be finite or NaN, found {default!r}")
        set_(self, "agg", agg)
        set_(self, "n", n)
        set_(self, "key", key)
        set_(self, "scope", scope)
        set_(self, "default", default)
        set_(self, "where", _normalize_where(self.name, self.where))
        set_(self, "window", _canonical_window(self.window))
        set_(self, "window_us", parse_window(self.window))

    @property
    def width(self) -> int:
        """Number of columns this feature fills in the vector."""
        return self.n if self.agg == "last_n" else 1  # type: ignore[return-value]

    @property
    def columns(self) -> list[str]:
        if self.agg == "last_n":
            return [f"{self.name}[{i}]" for i in range(self.width)]
        return [self.name]

    @property
    def stream(self) -> tuple[str, str, str, str]:
        """(event, where JSON, scope, distinct key): the unit the store keeps time buckets for."""
        dkey = self.key if self.agg == "count_distinct" else ""
        return (self.event, where_json(self.where), self.scope, dkey or "")  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "event": self.event, "agg": self.agg}
        if self.window is not None:
            d["window"] = self.window
        if self.key is not None:
            d["key"] = self.key
        if self.n is not None:
            d["n"] = self.n
        if self.where:
            d["where"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.where}
        d["scope"] = self.scope
        d["default"] = "NaN" if math.isnan(self.default) else self.default
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Feature:
        if not isinstance(d, Mapping) or "name" not in d or "event" not in d:
            raise FeatureSpecError(
                f"a feature must be an object with at least 'name' and 'event', found {d!r}"
            )
        known = {"name", "event", "agg", "window", "key", "n", "where", "scope", "default"}
        extra = set(d) - known
        if extra:
            raise FeatureSpecError(
                f"feature {d.get('name')!r} has unknown fields {sorted(extra)}; this spec may come from a "
                f"newer Ember — upgrade Ember to read it"
            )
        kw = dict(d)
        if kw.get("default") == "NaN":
            kw["default"] = float("nan")
        return cls(**kw)


def where_json(where: tuple[tuple[str, Any], ...]) -> str:
    if not where:
        return ""
    return json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in where}, sort_keys=True)


def where_from_json(text: str) -> tuple[tuple[str, Any], ...]:
    return _normalize_where("?", json.loads(text)) if text else ()


@dataclass(frozen=True)
class FeatureSpec:
    """An ordered, named, versioned list of features: the input contract of one model."""

    name: str
    features: tuple[Feature, ...]
    version: int = 1

    def __init__(self, name: str, features: Iterable[Feature], version: int = 1) -> None:
        feats = tuple(features)
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise FeatureSpecError(f"spec name must be an identifier-like string, found {name!r}")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise FeatureSpecError(f"spec {name!r}: version must be an int >= 1, found {version!r}")
        if not feats:
            raise FeatureSpecError(f"spec {name!r} has no features; give at least one Feature")
        seen: set[str] = set()
        for f in feats:
            if not isinstance(f, Feature):
                raise FeatureSpecError(f"spec {name!r}: expected Feature objects, found {type(f).__name__}")
            if f.name in seen:
                raise FeatureSpecError(
                    f"spec {name!r}: feature name {f.name!r} appears twice; names must be unique"
                )
            seen.add(f.name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "version", version)

    @property
    def dim(self) -> int:
        return sum(f.width for f in self.features)

    @property
    def columns(self) -> list[str]:
        return [c for f in self.features for c in f.columns]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SPEC_FORMAT,
            "format_version": SPEC_FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "features": [f.to_dict() for f in self.features],
        }

    def to_json(self) -> bytes:
        """Canonical JSON bytes (sorted keys, no spaces, ASCII): byte-identical for equal specs.

        These are the bytes to embed in an .ember file's metadata; read them back with `from_json`.
        """
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    @property
    def content_hash(self) -> str:
        """sha256 (hex) of `to_json()`."""
        return hashlib.sha256(self.to_json()).hexdigest()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSpec:
        if not isinstance(d, Mapping):
            raise FeatureSpecError(f"a FeatureSpec must be a JSON object, found {type(d).__name__}")
        if d.get("format") != SPEC_FORMAT:
            raise FeatureSpecError(
                f"expected a JSON object with format={SPEC_FORMAT!r}, found format={d.get('format')!r}"
            )
        fv = d.get("format_version")
        if not isinstance(fv, int) or fv > SPEC_FORMAT_VERSION:
            raise FeatureSpecError(
                f"feature spec format_version {fv!r} is newer than this Ember reads ({SPEC_FORMAT_VERSION}); "
                f"upgrade Ember"
            )
        feats = d.get("features")
        if not isinstance(feats, list):
            raise FeatureSpecError("feature spec JSON has no 'features' list")
        return cls(d.get("name"), [Feature.from_dict(x) for x in feats], version=d.get("version", 1))

    @classmethod
    def from_json(cls, data: bytes | str) -> FeatureSpec:
        try:
            d = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FeatureSpecError(
                f"feature spec is not valid JSON ({exc}); expected FeatureSpec.to_json() output"
            ) from None
        if isinstance(d, dict) and "spec" in d and "sha256" in d:  # a beside-file envelope
            return _open_envelope(d, "<json>")
        return cls.from_dict(d)

    # -- beside an .ember file -------------------------------------------------------------------
    def save_beside(self, model_path: str | os.PathLike[str]) -> Path:
        """Write `<model>.ember.features.json` next to the model, with the spec's sha256. Returns its path."""
        path = beside_path(model_path)
        envelope = {"sha256": self.content_hash, "spec": json.loads(self.to_json())}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(envelope, sort_keys=True, indent=1) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load_beside(cls, model_path: str | os.PathLike[str]) -> FeatureSpec:
        """Read and verify `<model>.ember.features.json` (or the given .features.json path)."""
        path = Path(model_path)
        if not path.name.endswith(BESIDE_SUFFIX):
            path = beside_path(model_path)
        if not path.exists():
            raise FeatureSpecError(
                f"no feature spec beside {model_path}: expected {path}; write it with spec.save_beside(model)"
            )
        try:
            d = json.loads(path.read_text())
        except ValueError as exc:
            raise FeatureSpecError(
                f"{path} is not valid JSON ({exc}); re-create it with spec.save_beside()"
            ) from None
        return _open_envelope(d, str(path))


def _open_envelope(d: Mapping[str, Any], where: str) -> FeatureSpec:
    if not isinstance(d.get("spec"), dict) or not isinstance(d.get("sha256"), str):
        raise FeatureSpecError(
            f"{where}: expected an object with 'spec' and 'sha256', found keys {sorted(d)}"
        )
    spec = FeatureSpec.from_dict(d["spec"])
    if spec.content_hash != d["sha256"]:
        raise FeatureSpecError(
            f"{where}: the spec's sha256 is {spec.content_hash[:16]}… but the file says {d['sha256'][:16]}…; "
            f"the file was edited or corrupted — re-create it from the training code with save_beside()"
        )
    return spec


def beside_path(model_path: str | os.PathLike[str]) -> Path:
    p = Path(model_path)
    return p.with_name(p.name + BESIDE_SUFFIX)
