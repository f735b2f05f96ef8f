"""Publisher side: a TUF repository of model releases, written with python-tuf's Metadata API.

Roles and keys:
  root       offline keys (their own directory), threshold configurable; signs only root
  targets    the publisher's key; signs release manifests and model files, delegates rollout/*/*
  rollout    online key (delegated role); signs rollout state, so halts need no publisher key
  snapshot   online key
  timestamp  online key; re-signed often (`refresh`) so that devices detect freeze attacks

Consistent snapshots are on: metadata is served as N.role.json and targets as <sha256>.<name>, so a
repository can be updated while devices read it. The timestamp is replaced last, atomically.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ember.delivery import keys as keystore
from ember.delivery.errors import RegistryError, SigningKeyError
from ember.delivery.fsutil import atomic_write, atomic_write_json, file_lock, read_json
from ember.delivery.manifest import (
    ReleaseInfo,
    Requirements,
    RolloutState,
    VariantInfo,
    check_name,
    release_path,
    rollout_path,
    variant_path,
)

ONLINE_ROLES = ("snapshot", "timestamp", "rollout")
TOP_ROLES = ("root", "targets", "snapshot", "timestamp")
ALL_ROLES = ("root", "targets", "snapshot", "timestamp", "rollout")
ROLLOUT_ROLE = "rollout"

DEFAULT_EXPIRY_DAYS = {"root": 365.0, "targets": 90.0, "rollout": 7.0, "snapshot": 7.0, "timestamp": 1.0}


@dataclasses.dataclass
class RegistryConfig:
    expiry_days: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_EXPIRY_DAYS))
    thresholds: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(ALL_ROLES, 1))
    auto_halt_failure_rate: float = 0.2  # halt a release when more than this fraction of reports fail
    auto_halt_min_reports: int = 20  # ... counting at least this many reports

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegistryConfig:
        cfg = cls()
        cfg.expiry_days.update(d.get("expiry_days", {}))
        cfg.thresholds.update(d.get("thresholds", {}))
        cfg.auto_halt_failure_rate = float(d.get("auto_halt_failure_rate", cfg.auto_halt_failure_rate))
        cfg.auto_halt_min_reports = int(d.get("auto_halt_min_reports", cfg.auto_halt_min_reports))
        return cfg


@dataclasses.dataclass(frozen=True)
class VariantSpec:
    """What a publisher hands to `publish` for one variant."""

    name: str
    file: Path
    smoke_file: Path  # .npz with input_0.., expected_0.. (see make_smoke_file)
    requires: Requirements = Requirements()
    rtol: float = 1e-4
    atol: float = 1e-5


def make_smoke_file(path: Path, inputs: list, expected: list) -> Path:
    """Write a smoke-test file: the signed input arrays and the outputs the model must reproduce."""
    import numpy as np

    arrays = {f"input_{i}": np.asarray(a) for i, a in enumerate(inputs)}
    arrays.update({f"expected_{i}": np.asarray(a) for i, a in enumerate(expected)})
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def _check_smoke_file(path: Path) -> None:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
    except Exception as exc:
        raise RegistryError(
            f"smoke-test file {path} is not a readable .npz ({exc}); write it with "
            "ember.delivery.make_smoke_file(path, inputs, expected)."
        ) from None
    if "input_0" not in names or "expected_0" not in names:
        raise RegistryError(
            f"smoke-test file {path} holds arrays {sorted(names)}; expected input_0.. and expected_0.. "
            "Write it with ember.delivery.make_smoke_file(path, inputs, expected)."
        )


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class Registry:
    """A model repository on disk. Open an existing one with Registry(path); make one with Registry.init."""

    def __init__(self, path: Path | str, offline_keys: Path | str | None = None):
        self.path = Path(path)
        self.metadata_dir = self.path / "repo" / "metadata"
        self.targets_dir = self.path / "repo" / "targets"
        self.keys_dir = self.path / "keys"
        self.offline_keys = Path(offline_keys) if offline_keys else None
        if not (self.path / "registry.json").exists():
            raise RegistryError(
                f"{self.path} is not an Ember registry (no registry.json); "
                f"create one with `ember registry init {self.path} --offline-keys DIR`."
            )
        self.config = RegistryConfig.from_dict(read_json(self.path / "registry.json", {}))
        self._md: dict[str, Any] = {}

    # ---------------------------------------------------------------- creation
    @classmethod
    def init(
        cls,
        path: Path | str,
        offline_keys: Path | str,
        *,
        root_keys: int = 1,
        config: RegistryConfig | None = None,
    ) -> Registry:
        """Create keys and the first signed metadata. `offline_keys` receives the root keys: keep that
        directory off the serving machine once the registry is made."""
        from tuf.api.metadata import (
            DelegatedRole,
            Delegations,
            Key,
            Metadata,
            MetaFile,
            Root,
            Snapshot,
            Targets,
            Timestamp,
        )

        path, offline_keys = Path(path), Path(offline_keys)
        config = config or RegistryConfig()
        if (path / "registry.json").exists():
            raise RegistryError(f"{path} already holds a registry; pick an empty directory.")
        if offline_keys.resolve() == (path / "keys").resolve():
            raise RegistryError("the offline root-key directory must not be the registry's keys/ directory.")
        if config.thresholds["root"] > root_keys:
            raise RegistryError(
                f"root threshold {config.thresholds['root']} needs at least that many root keys, "
                f"got --root-keys {root_keys}; raise --root-keys or lower the threshold."
            )
        for role in ALL_ROLES:
            if config.thresholds[role] < 1:
                raise RegistryError(f"threshold of {role} must be at least 1, got {config.thresholds[role]}.")
        path.mkdir(parents=True, exist_ok=True)
        (path / "repo" / "metadata").mkdir(parents=True, exist_ok=True)
        (path / "repo" / "targets").mkdir(parents=True, exist_ok=True)
        atomic_write_json(path / "registry.json", config.to_dict())

        root_signers = [keystore.generate("root", offline_keys) for _ in range(root_keys)]
        # every other role gets as many keys as its threshold (in a real deployment a targets threshold
        # of 2 means two publishers, each holding one of these files)
        signers = {
            role: [keystore.generate(role, path / "keys") for _ in range(config.thresholds[role])]
            for role in ALL_ROLES
            if role != "root"
        }

        now = _now()
        root = Root(consistent_snapshot=True, expires=now + timedelta(days=config.expiry_days["root"]))
        for s in root_signers:
            root.add_key(s.public_key, "root")
        root.roles["root"].threshold = config.thresholds["root"]
        for role in ("targets", "snapshot", "timestamp"):
            for s in signers[role]:
                root.add_key(s.public_key, role)
            root.roles[role].threshold = config.thresholds[role]
        rollout_keys: list[Key] = [s.public_key for s in signers[ROLLOUT_ROLE]]
        targets = Targets(expires=now + timedelta(days=config.expiry_days["targets"]))
        targets.delegations = Delegations(
            keys={k.keyid: k for k in rollout_keys},
            roles={
                ROLLOUT_ROLE: DelegatedRole(
                    ROLLOUT_ROLE,
                    [k.keyid for k in rollout_keys],
                    config.thresholds[ROLLOUT_ROLE],
                    terminating=True,
                    paths=["rollout/*/*"],
                )
            },
        )
        rollout = Targets(expires=now + timedelta(days=config.expiry_days["rollout"]))
        snapshot = Snapshot(expires=now + timedelta(days=config.expiry_days["snapshot"]))
        timestamp = Timestamp(expires=now + timedelta(days=config.expiry_days["timestamp"]))
        reg = cls(path, offline_keys)
        md_root = Metadata(root)
        for s in root_signers:
            md_root.sign(s, append=True)
        reg._write_metadata("root", md_root)
        snapshot.meta = {"targets.json": MetaFile(1), f"{ROLLOUT_ROLE}.json": MetaFile(1)}
        timestamp.snapshot_meta = MetaFile(1)
        for role, signed in (
            ("targets", targets),
            (ROLLOUT_ROLE, rollout),
            ("snapshot", snapshot),
            ("timestamp", timestamp),
        ):
            md = Metadata(signed)
            for s in signers[role]:
                md.sign(s, append=True)
            reg._write_metadata(role, md)
        return reg

    # ---------------------------------------------------------------- metadata io
    def _file_for(self, role: str, version: int) -> Path:
        if role == "timestamp":
            return self.metadata_dir / "timestamp.json"
        return self.metadata_dir / f"{version}.{role}.json"

    def _write_metadata(self, role: str, md) -> None:
        from tuf.api.serialization.json import JSONSerializer

        data = md.to_bytes(JSONSerializer(compact=True))
        atomic_write(self._file_for(role, md.signed.version), data)
        if role == "root":
            atomic_write(self.metadata_dir / "root.json", data)
        self._md[role] = md

    def _load(self) -> None:
        """Read the newest metadata of every role from disk (the timestamp names the rest)."""
        from tuf.api.metadata import Metadata

        try:
            self._md = {"root": Metadata.from_file(str(self.metadata_dir / "root.json"))}
            ts = Metadata.from_file(str(self.metadata_dir / "timestamp.json"))
            self._md["timestamp"] = ts
            snap = Metadata.from_file(str(self._file_for("snapshot", ts.signed.snapshot_meta.version)))
            self._md["snapshot"] = snap
            for role in ("targets", ROLLOUT_ROLE):
                version = snap.signed.meta[f"{role}.json"].version
                self._md[role] = Metadata.from_file(str(self._file_for(role, version)))
        except (OSError, KeyError, ValueError) as exc:
            raise RegistryError(
                f"the metadata in {self.metadata_dir} is incomplete or unreadable ({exc}); "
                "restore the registry directory from a backup."
            ) from None

    def metadata(self, role: str):
        if not self._md:
            self._load()
        return self._md[role]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Serialize writers (CLI and dev server) and always work from what is on disk."""
        with file_lock(self.path / ".lock", blocking=True):
            self._load()
            yield

    def _signers(self, role: str) -> list:
        if role == ROLLOUT_ROLE:
            delegations = self.metadata("targets").signed.delegations
            keyids = delegations.roles[ROLLOUT_ROLE].keyids
            threshold = delegations.roles[ROLLOUT_ROLE].threshold
        else:
            r = self.metadata("root").signed.roles[role]
            keyids, threshold = r.keyids, r.threshold
        dirs = [self.keys_dir] + ([self.offline_keys] if self.offline_keys else [])
        signers = keystore.load_signers(role, keyids, dirs)
        if len(signers) < threshold:
            where = (
                "the offline root-key directory (--offline-keys)" if role == "root" else str(self.keys_dir)
            )
            raise SigningKeyError(
                f"signing {role} metadata needs {threshold} of its keys {keyids}; found {len(signers)} in "
                f"{where}. Pass the directory that holds them."
            )
        return signers

    def _sign(self, role: str, md, *, bump: bool = True) -> None:
        if bump:
            md.signed.version += 1
        md.signed.expires = _now() + timedelta(days=self.config.expiry_days[role])
        md.signatures.clear()
        for signer in self._signers(role):
            md.sign(signer, append=True)

    def _commit(self, changed: list[str], *, snapshot: bool = True) -> None:
        """Re-sign the changed targets roles, then snapshot, then timestamp (replaced last)."""
        from tuf.api.metadata import MetaFile

        for role in changed:
            md = self._md[role]
            self._sign(role, md)
            self._write_metadata(role, md)
        snap = self._md["snapshot"]
        if snapshot or changed:
            for role in changed:
                snap.signed.meta[f"{role}.json"] = MetaFile(self._md[role].signed.version)
            self._sign("snapshot", snap)
            self._write_metadata("snapshot", snap)
        ts = self._md["timestamp"]
        ts.signed.snapshot_meta = MetaFile(snap.signed.version)
        self._sign("timestamp", ts)
        self._write_metadata("timestamp", ts)

    # ---------------------------------------------------------------- targets
    def _add_target_bytes(self, role: str, target_path: str, data: bytes | None, source: Path | None):
        """Store a target file under its hash-prefixed name and record it in `role`."""
        from tuf.api.metadata import TargetFile

        if source is not None:
            info = TargetFile.from_file(target_path, str(source), ["sha256"])
        else:
            info = TargetFile.from_data(target_path, data, ["sha256"])
        dirname, _, basename = target_path.rpartition("/")
        dest = self.targets_dir / dirname / f"{info.hashes['sha256']}.{basename}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            if source is not None:
                tmp = dest.with_name(f".{dest.name}.tmp")
                shutil.copyfile(source, tmp)
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, dest)
            else:
                atomic_write(dest, data)
        self._md[role].signed.targets[target_path] = info
        return info

    def _releases(self, model: str) -> dict[int, ReleaseInfo]:
        prefix = f"{model}/releases/"
        out = {}
        for path, info in self.metadata("targets").signed.targets.items():
            if path.startswith(prefix):
                rel = ReleaseInfo.from_custom(info.custom, path)
                out[rel.release] = rel
        return out

    def release(self, model: str, release: int) -> ReleaseInfo:
        rel = self._releases(model).get(release)
        if rel is None:
            known = sorted(self._releases(model))
            raise RegistryError(f"{model} has no release {release}; known releases: {known or 'none'}.")
        return rel

    def rollout_state(self, model: str, channel: str) -> RolloutState | None:
        path = rollout_path(model, channel)
        info = self.metadata(ROLLOUT_ROLE).signed.targets.get(path)
        return None if info is None else RolloutState.from_custom(info.custom, path)

    def _set_rollout(self, state: RolloutState) -> None:
        path = rollout_path(state.model, state.channel)
        data = json.dumps(state.to_custom(), sort_keys=True).encode()
        info = self._add_target_bytes(ROLLOUT_ROLE, path, data, None)
        info.unrecognized_fields["custom"] = state.to_custom()

    def _add_release(self, rel: ReleaseInfo, files: dict[str, Path]) -> None:
        """Record a release manifest and its files (target path -> local file) in targets."""
        for target, source in files.items():
            self._add_target_bytes("targets", target, None, source)
        data = json.dumps(rel.to_custom(), sort_keys=True).encode()
        info = self._add_target_bytes("targets", release_path(rel.model, rel.release), data, None)
        info.unrecognized_fields["custom"] = rel.to_custom()

    # ---------------------------------------------------------------- publisher operations
    def publish(
        self,
        model: str,
        version: str,
        variants: list[VariantSpec],
        *,
        channel: str = "stable",
        percent: float = 0.0,
    ) -> int:
        """Sign a new release of `model` and stage it on `channel` at `percent`. Returns its release
        counter, which is higher than every earlier release of the model on any channel."""
        check_name("model", model)
        check_name("channel", channel)
        if not variants:
            raise RegistryError(f"publish {model}: give at least one variant (file + requirements).")
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise RegistryError(f"publish {model}: variant names must differ, got {names}.")
        for v in variants:
            check_name("variant", v.name)
            if not Path(v.file).is_file():
                raise RegistryError(
                    f"variant {v.name}: model file {v.file} does not exist; check the file= path "
                    "(relative paths are taken from the current directory)."
                )
            _check_smoke_file(Path(v.smoke_file))
        _check_percent(percent)
        with self._transaction():
            release = max(self._releases(model), default=0) + 1
            files: dict[str, Path] = {}
            infos = []
            for v in variants:
                target = variant_path(model, release, v.name, Path(v.file).name)
                smoke = variant_path(model, release, v.name, "smoke.npz")
                files[target], files[smoke] = Path(v.file), Path(v.smoke_file)
                infos.append(VariantInfo(v.name, target, smoke, v.requires, v.rtol, v.atol))
            rel = ReleaseInfo(model, version, channel, release, tuple(infos))
            self._add_release(rel, files)
            prev = self.rollout_state(model, channel)
            base = None
            if prev is not None:
                base = prev.release if (prev.percent >= 100 and not prev.halted) else prev.base
            if percent >= 100:
                base = release
            self._set_rollout(RolloutState(model, channel, release, percent, False, base))
            self._commit(["targets", ROLLOUT_ROLE])
            return release

    def _require_state(self, model: str, channel: str) -> RolloutState:
        state = self.rollout_state(model, channel)
        if state is None:
            raise RegistryError(
                f"{model} has nothing published on channel {channel!r}; "
                f"run `ember registry publish {model} ...` first."
            )
        return state

    def rollout(self, model: str, percent: float, *, channel: str = "stable") -> RolloutState:
        """Set the share of devices that get the newest release (clears a halt)."""
        _check_percent(percent)
        with self._transaction():
            st = self._require_state(model, channel)
            st = dataclasses.replace(
                st, percent=percent, halted=False, base=st.release if percent >= 100 else st.base
            )
            self._set_rollout(st)
            self._commit([ROLLOUT_ROLE])
            return st

    def halt(self, model: str, *, channel: str = "stable", release: int | None = None) -> RolloutState | None:
        """Stop the newest release from reaching more devices. With `release`, only if it is still the
        newest (what the auto-halt uses). Returns the new state, or None if nothing changed."""
        with self._transaction():
            st = self._require_state(model, channel)
            if st.halted or (release is not None and st.release != release):
                return None
            base = st.base if st.base != st.release else None
            st = dataclasses.replace(st, halted=True, base=base)
            self._set_rollout(st)
            self._commit([ROLLOUT_ROLE])
            return st

    def rollback(self, model: str, *, channel: str = "stable", to_release: int | None = None) -> int:
        """Re-publish the bytes of an older release under a new, higher release counter, at 100%.
        Devices accept it because the counter grows; their anti-rollback check stays intact."""
        with self._transaction():
            st = self._require_state(model, channel)
            releases = self._releases(model)
            if to_release is None:
                # releases some earlier rollback moved away from are bad: never restore those by default
                replaced = {info.replaces for info in releases.values() if info.replaces is not None}
                older = [
                    r
                    for r, info in releases.items()
                    if r < st.release and info.channel == channel and r not in replaced
                ]
                good = st.base if (st.base is not None and st.base < st.release) else None
                to_release = good if good is not None else max(older, default=None)
                if to_release is None:
                    raise RegistryError(
                        f"{model} on {channel!r} has no release older than {st.release} to roll back to."
                    )
            if to_release not in releases:
                raise RegistryError(f"{model} has no release {to_release}; known: {sorted(releases)}.")
            old = releases[to_release]
            new = max(releases) + 1
            files: dict[str, Path] = {}
            infos = []
            targets = self.metadata("targets").signed.targets
            for v in old.variants:
                new_variant = dataclasses.replace(
                    v,
                    path=variant_path(model, new, v.name, v.path.rpartition("/")[2]),
                    smoke_path=variant_path(model, new, v.name, "smoke.npz"),
                )
                files[new_variant.path] = self._stored_file(v.path, targets[v.path])
                files[new_variant.smoke_path] = self._stored_file(v.smoke_path, targets[v.smoke_path])
                infos.append(new_variant)
            rel = ReleaseInfo(
                model, old.version, channel, new, tuple(infos), rollback_of=to_release, replaces=st.release
            )
            self._add_release(rel, files)
            self._set_rollout(RolloutState(model, channel, new, 100.0, False, new))
            self._commit(["targets", ROLLOUT_ROLE])
            return new

    def _stored_file(self, target_path: str, info) -> Path:
        dirname, _, basename = target_path.rpartition("/")
        return self.targets_dir / dirname / f"{info.hashes['sha256']}.{basename}"

    def refresh(self, *, margin: timedelta | None = None) -> list[str]:
        """Re-sign online metadata: the timestamp always, snapshot and rollout once half their life
        is gone (targets too, if its key is here). With `margin`, do nothing unless one of them
        expires within it (the dev server calls this periodically; in production run
        `ember registry refresh` from cron). Returns the roles signed."""
        with self._transaction():
            now = _now()

            def expiring(role: str, within: timedelta) -> bool:
                return self._md[role].signed.expires - now < within

            def half(role: str) -> timedelta:
                return timedelta(days=self.config.expiry_days[role] / 2)

            if margin is not None and not any(
                expiring(r, margin) for r in ("timestamp", "snapshot", ROLLOUT_ROLE)
            ):
                return []
            changed = [ROLLOUT_ROLE] if expiring(ROLLOUT_ROLE, half(ROLLOUT_ROLE)) else []
            if expiring("targets", half("targets")):
                try:  # only where the publisher's targets key is at hand (not on a bare server)
                    self._signers("targets")
                    changed.append("targets")
                except SigningKeyError:
                    pass
            snapshot = bool(changed) or expiring("snapshot", half("snapshot"))
            self._commit(changed, snapshot=snapshot)
            return changed + (["snapshot"] if snapshot else []) + ["timestamp"]

    def rotate_key(self, role: str) -> str:
        """Replace one key of `role` (the first listed) by a new one. For root and the top-level roles
        this writes a new root version signed by the old and the new root keys (needs the offline
        keys), which devices follow from the root they were built with; for rollout it re-signs
        targets. Returns the new key id."""
        if role not in ALL_ROLES:
            raise RegistryError(f"unknown role {role!r}; expected one of {ALL_ROLES}.")
        with self._transaction():
            if role == ROLLOUT_ROLE:
                targets = self._md["targets"].signed
                old = targets.delegations.roles[ROLLOUT_ROLE].keyids[0]
                signer = keystore.generate(ROLLOUT_ROLE, self.keys_dir)
                targets.revoke_key(old, ROLLOUT_ROLE)
                targets.add_key(signer.public_key, ROLLOUT_ROLE)
                keystore.retire(ROLLOUT_ROLE, old, self.keys_dir)
                self._commit(["targets", ROLLOUT_ROLE])  # rollout re-signed with the new key
                return signer.public_key.keyid
            if self.offline_keys is None:
                raise SigningKeyError(
                    f"rotating the {role} key changes root metadata, which needs the offline root keys; "
                    "pass --offline-keys DIR."
                )
            md_root = self._md["root"]
            root = md_root.signed
            old = root.roles[role].keyids[0]
            old_root_signers = self._signers("root")
            key_dir = self.offline_keys if role == "root" else self.keys_dir
            signer = keystore.generate(role, key_dir)
            root.revoke_key(old, role)
            root.add_key(signer.public_key, role)
            root.version += 1
            root.expires = _now() + timedelta(days=self.config.expiry_days["root"])
            md_root.signatures.clear()
            signed_by = set()
            for s in old_root_signers + self._signers("root"):  # old keys vouch for the new root
                if s.public_key.keyid not in signed_by:
                    signed_by.add(s.public_key.keyid)
                    md_root.sign(s, append=True)
            self._write_metadata("root", md_root)
            keystore.retire(role, old, key_dir)
            if role == "targets":
                self._commit(["targets"])
            elif role in ("snapshot", "timestamp"):
                self._commit([])  # re-sign with the new key so devices see it at once
            return signer.public_key.keyid

    # ---------------------------------------------------------------- reading
    def channels(self) -> list[RolloutState]:
        out = []
        for path, info in sorted(self.metadata(ROLLOUT_ROLE).signed.targets.items()):
            out.append(RolloutState.from_custom(info.custom, path))
        return out

    def root_bytes(self) -> bytes:
        """The current root metadata: embed it in device builds as their trust anchor."""
        return (self.metadata_dir / "root.json").read_bytes()


def _check_percent(percent: float) -> None:
    if not 0 <= percent <= 100:
        raise RegistryError(f"rollout percent must be between 0 and 100, got {percent}.")
