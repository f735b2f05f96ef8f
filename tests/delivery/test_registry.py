"""Publisher side: keys and thresholds, key rotation seen by devices, expiry, consistent snapshots,
release counters, rollout/halt/rollback semantics, and the CLI."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

import pytest
from conftest import assert_active, make_env
from tuf.api.metadata import Metadata

from ember.delivery import Registry, RegistryConfig, RegistryError, SigningKeyError, VerificationError


def test_init_keeps_root_keys_apart_and_sets_thresholds(tmp_path):
    cfg = RegistryConfig()
    cfg.thresholds["root"] = 2
    cfg.expiry_days.update({"timestamp": 0.5, "targets": 30})
    reg = Registry.init(tmp_path / "reg", tmp_path / "offline", root_keys=3, config=cfg)
    assert len(list((tmp_path / "offline").glob("root.*.pem"))) == 3
    assert not list((tmp_path / "reg").rglob("root.*.pem"))  # no root private key near the server
    root = reg.metadata("root").signed
    assert root.consistent_snapshot
    assert (len(root.roles["root"].keyids), root.roles["root"].threshold) == (3, 2)
    assert len(reg.metadata("root").signatures) == 3
    now = datetime.now(timezone.utc)
    assert reg.metadata("timestamp").signed.expires - now < timedelta(hours=12, minutes=1)
    assert timedelta(days=29) < reg.metadata("targets").signed.expires - now < timedelta(days=31)
    with pytest.raises(RegistryError, match="root threshold 2 needs at least that many root keys"):
        Registry.init(tmp_path / "r2", tmp_path / "off2", root_keys=1, config=cfg)


def test_consistent_snapshot_files(env):
    md = env.reg.metadata_dir
    snap_v = env.reg.metadata("timestamp").signed.snapshot_meta.version
    assert (md / f"{snap_v}.snapshot.json").exists()
    for path, info in env.reg.metadata("targets").signed.targets.items():
        d, _, base = path.rpartition("/")
        assert (env.reg.targets_dir / d / f"{info.hashes['sha256']}.{base}").exists()


def test_release_counter_grows_across_channels_and_rollbacks(env):
    from ember.delivery import VariantSpec

    m, s = env.model("v2", 2)
    assert env.reg.publish("m", "2.0-beta", [VariantSpec("generic", m, s)], channel="beta", percent=100) == 2
    assert env.publish("1.1", "v2", seed=2) == 3
    assert env.reg.rollback("m") == 4
    rel = env.reg.release("m", 4)
    assert (rel.rollback_of, rel.version) == (1, "1.0")


def test_rollout_halt_rollback_on_a_device(env):
    c = env.client()
    c.update("m")
    env.publish("1.1", "v2", seed=2, percent=0)
    assert env.client().update("m").status == "up-to-date"  # at 0% devices stay on the base, release 1
    st = env.reg.rollout("m", 100)
    assert (st.percent, st.base) == (100.0, 2)
    assert env.client().update("m").release == 2
    assert env.reg.halt("m").halted
    r = env.client().update("m")  # a halt stops spreading, it does not downgrade
    assert (r.status, c.installed("m")["release"]) == ("not-in-rollout", 2)
    new = env.reg.rollback("m")
    assert env.client().update("m").release == new  # same bytes as release 1, higher counter
    assert_active(c, env, "v1", new)


def test_key_rotation_is_followed_by_devices(env):
    c = env.client()
    c.update("m")
    old_ts = env.reg.metadata("root").signed.roles["timestamp"].keyids[0]
    with pytest.raises(SigningKeyError, match="offline root keys"):
        Registry(env.reg.path).rotate_key("timestamp")
    for role in ("timestamp", "snapshot", "targets", "rollout", "root"):
        env.reg.rotate_key(role)
    root = env.reg.metadata("root").signed
    assert root.version == 5 and old_ts not in root.roles["timestamp"].keyids
    env.publish("1.1", "v2", seed=2)
    # a device built with the very first root walks the chain 1 -> 5 and installs
    assert env.client().update("m").release == 2
    assert env.client("fresh").update("m").release == 2

    # metadata signed with the retired timestamp key is no longer accepted
    from securesystemslib.signer import CryptoSigner

    retired = next((env.reg.keys_dir / "retired").glob(f"timestamp.{old_ts}.pem"))
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import SSlibKey

    priv = load_pem_private_key(retired.read_bytes(), None)
    old_signer = CryptoSigner(priv, SSlibKey.from_crypto(priv.public_key()))
    ts_path = env.reg.metadata_dir / "timestamp.json"
    ts = Metadata.from_bytes(ts_path.read_bytes())
    ts.signed.version += 1
    ts.signatures.clear()
    ts.sign(old_signer)
    ts_path.write_bytes(ts.to_bytes())
    with pytest.raises(VerificationError, match="not signed by the keys this device trusts"):
        env.client().update("m")
    assert_active(c, env, "v2", 2)


def test_root_threshold_needs_enough_offline_keys(tmp_path):
    cfg = RegistryConfig()
    cfg.thresholds["root"] = 2
    reg = Registry.init(tmp_path / "reg", tmp_path / "offline", root_keys=2, config=cfg)
    victim = next((tmp_path / "offline").glob("root.*.pem"))
    victim.rename(tmp_path / "elsewhere.pem")
    with pytest.raises(SigningKeyError, match="needs 2 of its keys"):
        Registry(reg.path, tmp_path / "offline").rotate_key("timestamp")


def test_timestamp_refresh_and_bad_names(env):
    v = env.reg.metadata("timestamp").signed.version
    assert env.reg.refresh(margin=timedelta(seconds=1)) == []  # nothing close to expiry
    assert "timestamp" in env.reg.refresh()
    assert env.reg.metadata("timestamp").signed.version == v + 1
    with pytest.raises(RegistryError, match="name '../x' is not allowed"):
        env.reg.publish("../x", "1", [])
    with pytest.raises(RegistryError, match="percent must be between 0 and 100"):
        env.reg.rollout("m", 120)
    with pytest.raises(RegistryError, match="nothing published on channel 'beta'"):
        env.reg.halt("m", channel="beta")


def test_cli_round_trip(tmp_path, capsys, monkeypatch):
    from conftest import load_npz_model

    from ember.delivery import cli, smoke

    monkeypatch.setattr(smoke, "_ember_load", load_npz_model)  # the CLI's default smoke test, stand-in format
    from ember.delivery.server import serve

    parser = argparse.ArgumentParser(prog="ember")
    cli.register(parser.add_subparsers())

    def run(*argv):
        args = parser.parse_args([str(a) for a in argv])
        return args.func(args)

    env = make_env(tmp_path / "scratch")
    m, s = env.model("v1", 1)
    env.server.stop()
    reg = tmp_path / "reg"
    assert (
        run("registry", "init", reg, "--offline-keys", tmp_path / "off", "--timestamp-expiry-days", "2") == 0
    )
    spec = f"name=generic,file={m},smoke={s},isa=avx2+fma,min-ram-mb=64"
    assert run("registry", "publish", reg, "m", "--version", "1.0", "--variant", spec) == 0
    assert "nothing ships yet" in capsys.readouterr().out
    assert run("registry", "rollout", reg, "m", "--percent", "100") == 0
    assert run("registry", "export-root", reg, tmp_path / "root.json") == 0
    srv = serve(Registry(reg))
    try:
        dev = ("--cache", tmp_path / "dev", "--server", srv.url, "--root", tmp_path / "root.json")
        capsys.readouterr()
        assert run("device", "update", "m", *dev) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "updated"
    finally:
        srv.stop()
    assert run("registry", "status", reg, "m") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["channels"][0]["percent"] == 100.0 and out["devices_running"] == {"1": 1}
    assert run("registry", "halt", reg, "m") == 0
    assert run("registry", "rotate-key", reg, "timestamp", "--offline-keys", tmp_path / "off") == 0
    with pytest.raises(RegistryError, match="unknown keys \\['colour'\\]"):
        run("registry", "publish", reg, "m", "--version", "2", "--variant", spec + ",colour=red")


def test_targets_threshold_two_of_two(tmp_path):
    from conftest import X86, load_npz_model, make_model

    from ember.delivery import DeviceClient, SmokeTest, VariantSpec, serve

    cfg = RegistryConfig()
    cfg.thresholds["targets"] = 2
    reg = Registry.init(tmp_path / "reg", tmp_path / "off", config=cfg)
    assert len(reg.metadata("root").signed.roles["targets"].keyids) == 2
    m, s = make_model(tmp_path, "v1", 1)
    reg.publish("m", "1.0", [VariantSpec("generic", m, s)], percent=100)
    assert len(reg.metadata("targets").signatures) == 2
    root = reg.root_bytes()
    srv = serve(reg)
    try:
        dev = DeviceClient(tmp_path / "dev", srv.url, root, profile=X86, smoke_test=SmokeTest(load_npz_model))
        assert dev.update("m").release == 1
        # one publisher's key is gone: publishing stops with a clear error ...
        key = next((tmp_path / "reg" / "keys").glob("targets.*.pem"))
        hidden = key.rename(tmp_path / key.name)
        with pytest.raises(SigningKeyError, match="needs 2 of its keys"):
            Registry(reg.path).publish("m", "1.1", [VariantSpec("generic", m, s)], percent=100)
        hidden.rename(key)
        # ... and targets metadata carrying only one of the two signatures is refused by devices
        md = reg.metadata_dir
        v = max(int(p.name.split(".")[0]) for p in md.glob("*.targets.json"))
        t = Metadata.from_bytes((md / f"{v}.targets.json").read_bytes())
        t.signatures.popitem()
        (md / f"{v}.targets.json").write_bytes(t.to_bytes())
        with pytest.raises(VerificationError, match="not signed by the keys this device trusts"):
            DeviceClient(tmp_path / "dev2", srv.url, root, profile=X86).update("m")
    finally:
        srv.stop()


def test_refresh_resigns_what_is_half_expired(tmp_path):
    cfg = RegistryConfig()
    cfg.expiry_days.update({"targets": 2.0, "rollout": 2.0, "snapshot": 2.0, "timestamp": 1.0})
    reg = Registry.init(tmp_path / "reg", tmp_path / "off", config=cfg)
    assert reg.refresh() == ["timestamp"]  # all fresh: only the timestamp
    reg.config.expiry_days.update({"targets": 10.0, "rollout": 10.0, "snapshot": 10.0})  # now > half gone
    assert reg.refresh() == ["rollout", "targets", "snapshot", "timestamp"]


def test_second_rollback_does_not_restore_the_bad_release(env):
    env.publish("1.1", "v2", seed=2)  # release 2, at 100%, turns out bad
    assert env.reg.rollback("m") == 3  # bytes of 1, replaces 2
    assert (env.reg.release("m", 3).rollback_of, env.reg.release("m", 3).replaces) == (1, 2)
    assert env.reg.rollback("m") == 4  # rolling back again skips 2 (replaced) and restores 1 again
    assert env.reg.release("m", 4).rollback_of == 1
