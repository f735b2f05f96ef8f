"""An attacker who controls the network or the file server. Each attack is rejected with a clear
error and the active model is untouched (same bytes, same release, still passes its smoke test)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import assert_active

from ember.delivery import (
    NoCompatibleVariantError,
    ReleaseRollbackError,
    Requirements,
    VerificationError,
)
from ember.delivery.manifest import RolloutState


@pytest.fixture
def installed(env):
    """A device running release 1, and release 2 published (not yet fetched)."""
    c = env.client()
    assert c.update("m").release == 1
    return c


def _served_target(env, release: int, basename: str):
    hits = list((env.reg.targets_dir / "m" / f"r{release}").rglob(f"*.{basename}"))
    assert len(hits) == 1
    return hits[0]


def test_tampered_target_bytes(env, installed):
    env.publish("1.1", "v2", seed=2)
    target = _served_target(env, 2, "v2.npz")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same length, one flipped byte
    target.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="does not match its signed length/hash"):
        env.client().update("m")
    assert_active(installed, env, "v1", 1)
    assert not list((installed.cache / "partial").iterdir())  # the bad bytes were thrown away


def test_target_longer_than_signed(env, installed):
    env.publish("1.1", "v2", seed=2)
    target = _served_target(env, 2, "v2.npz")
    target.write_bytes(target.read_bytes() + b"\0" * 100_000)
    with pytest.raises(VerificationError, match="more than the .* bytes its signed metadata allows"):
        env.client().update("m")
    assert_active(installed, env, "v1", 1)


class _EndlessProxy:
    """A man in the middle: forwards to the real server, except that it answers the chosen paths
    with an endless stream of bytes."""

    def __init__(self, upstream: str, endless_suffix: str):
        import urllib.request

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):  # noqa: N802
                if self.path.endswith(endless_suffix):
                    self.send_response(200)
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(b"A" * 65536)
                    except OSError:
                        return
                try:
                    with urllib.request.urlopen(upstream + self.path, timeout=5) as r:
                        body, code = r.read(), r.status
                except urllib.error.HTTPError as e:
                    body, code = b"", e.code
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("suffix", [".v2.npz", "timestamp.json"])
def test_endless_data(env, installed, suffix):
    env.publish("1.1", "v2", seed=2)
    proxy = _EndlessProxy(env.server.url, suffix)
    try:
        c = env.client()
        c.server = proxy.url
        with pytest.raises(VerificationError, match="more"):
            c.update("m")
    finally:
        proxy.stop()
    assert_active(installed, env, "v1", 1)


def test_rollback_to_older_metadata(env, installed):
    old_timestamp = (env.reg.metadata_dir / "timestamp.json").read_bytes()
    env.publish("1.1", "v2", seed=2)
    assert env.client().update("m").release == 2  # the device now trusts the newer metadata
    (env.reg.metadata_dir / "timestamp.json").write_bytes(old_timestamp)  # replay the old one
    with pytest.raises(VerificationError, match="older than what this device already trusts") as e:
        env.client().update("m")
    assert "timestamp" in str(e.value)
    assert_active(installed, env, "v2", 2)


def test_freeze_expired_timestamp(env, installed):
    env.reg.config.expiry_days["timestamp"] = -1.0  # the repository froze: its timestamp is stale
    env.reg.refresh()
    env.publish("1.1", "v2", seed=2)
    with pytest.raises(VerificationError, match="expired.*freeze attack"):
        env.client().update("m")
    assert_active(installed, env, "v1", 1)


def test_mix_and_match_snapshot_and_targets(env, installed):
    md = env.reg.metadata_dir
    env.publish("1.1", "v2", seed=2)
    newest = max(int(p.name.split(".")[0]) for p in md.glob("*.targets.json"))
    # serve the previous targets metadata (validly signed) where the snapshot names the newest
    (md / f"{newest}.targets.json").write_bytes((md / f"{newest - 1}.targets.json").read_bytes())
    with pytest.raises(VerificationError, match="mix-and-match") as e:
        env.client().update("m")
    assert f"Expected targets v{newest}" in str(e.value)
    assert_active(installed, env, "v1", 1)


def test_targets_signed_by_untrusted_key(env, installed):
    """The attacker stole the online snapshot and timestamp keys (they live on the server) but not the
    publisher's targets key: a model they sign themselves is still refused."""
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import TargetFile

    m, s = env.model("evil", 666)
    with env.reg._transaction():
        targets = env.reg._md["targets"]
        targets.signed.targets["m/r9/generic/evil.npz"] = TargetFile.from_file(
            "m/r9/generic/evil.npz", str(m)
        )
        evil = CryptoSigner.generate_ed25519()
        targets.signed.version += 1
        targets.signatures.clear()
        targets.sign(evil)
        env.reg._write_metadata("targets", targets)
        from tuf.api.metadata import MetaFile

        snap = env.reg._md["snapshot"]  # snapshot and timestamp signed with the stolen online keys
        snap.signed.meta["targets.json"] = MetaFile(targets.signed.version)
        env.reg._sign("snapshot", snap)
        env.reg._write_metadata("snapshot", snap)
        ts = env.reg._md["timestamp"]
        ts.signed.snapshot_meta = MetaFile(snap.signed.version)
        env.reg._sign("timestamp", ts)
        env.reg._write_metadata("timestamp", ts)
    with pytest.raises(VerificationError, match="not signed by the keys this device trusts"):
        env.client().update("m")
    assert_active(installed, env, "v1", 1)


def test_whole_chain_signed_by_untrusted_key(env, installed):
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata

    ts_path = env.reg.metadata_dir / "timestamp.json"
    ts = Metadata.from_bytes(ts_path.read_bytes())
    ts.signed.version += 1
    ts.signatures.clear()
    ts.sign(CryptoSigner.generate_ed25519())
    ts_path.write_bytes(ts.to_bytes())
    with pytest.raises(VerificationError, match="not signed by the keys this device trusts"):
        env.client().update("m")
    assert_active(installed, env, "v1", 1)


def test_lower_release_counter(env, installed):
    """Validly signed rollout state (a stolen online rollout key, or a publisher mistake) that points
    back to an older release than one the device has seen."""
    env.publish("1.1", "v2", seed=2)
    env.publish("1.2", "v3", seed=3)
    assert env.client().update("m").release == 3
    with env.reg._transaction():
        env.reg._set_rollout(RolloutState("m", "stable", release=2, percent=100.0, halted=False, base=2))
        env.reg._commit(["rollout"])
    with pytest.raises(ReleaseRollbackError, match="release counters only grow"):
        env.client().update("m")
    assert_active(installed, env, "v3", 3)
    # a device that never saw release 3 is also protected from going below what it runs
    assert json.loads((installed.cache / "state" / "m.json").read_text())["max_seen"] == 3


def test_variant_requirements_not_met(env, installed):
    env.publish("2.0", "v2", seed=2, requires=Requirements(isa=("neon",), min_ram_mb=100_000))
    with pytest.raises(NoCompatibleVariantError, match=r"needs ISA features \['neon'\].*needs 100000 MiB"):
        env.client().update("m")
    assert_active(installed, env, "v1", 1)
