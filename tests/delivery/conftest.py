"""Fixtures for delivery tests: a real registry on disk served over loopback HTTP by the dev server."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

import pytest

pytest.importorskip("tuf", reason="delivery needs the `delivery` extra: pip install 'ember[delivery]'")

sys.path.insert(0, str(Path(__file__).parent))

from standin import load_npz_model, make_model  # noqa: E402

from ember.delivery import DeviceClient, Registry, RegistryConfig, SmokeTest, VariantSpec, serve  # noqa: E402
from ember.delivery.device import DeviceProfile  # noqa: E402

X86 = DeviceProfile(isa=frozenset({"avx2", "fma"}), ram_mb=4096, runtime_version="0.1.0", format_version=1)
ARM = DeviceProfile(
    isa=frozenset({"neon", "dotprod"}), ram_mb=2048, runtime_version="0.1.0", format_version=1
)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclasses.dataclass
class Env:
    tmp: Path
    reg: Registry
    server: object
    models: dict  # name -> (model_path, smoke_path)

    def model(self, name: str, seed: int, **kw):
        if name not in self.models:
            self.models[name] = make_model(self.tmp, name, seed, **kw)
        return self.models[name]

    def publish(self, version: str, name: str, seed: int, percent: float = 100, requires=None, **kw) -> int:
        from ember.delivery import Requirements

        m, s = self.model(name, seed, **kw)
        spec = VariantSpec("generic", m, s, requires or Requirements())
        return self.reg.publish("m", version, [spec], percent=percent)

    def client(self, name: str = "dev", **kw) -> DeviceClient:
        kw.setdefault("profile", X86)
        kw.setdefault("smoke_test", SmokeTest(load_npz_model))
        kw.setdefault("timeout", 5.0)
        return DeviceClient(self.tmp / name, self.server.url, self.reg.root_bytes_initial, **kw)


def make_env(tmp: Path, **server_kw) -> Env:
    cfg = RegistryConfig(auto_halt_min_reports=20, auto_halt_failure_rate=0.2)
    reg = Registry.init(tmp / "reg", tmp / "offline", config=cfg)
    reg.root_bytes_initial = reg.root_bytes()  # what a device build embeds
    server = serve(reg, **server_kw)
    return Env(tmp, reg, server, {})


@pytest.fixture
def env(tmp_path):
    e = make_env(tmp_path)
    e.publish("1.0", "v1", seed=1)
    yield e
    e.server.stop()


def assert_active(client: DeviceClient, env: Env, name: str, release: int) -> None:
    """The active model is the file published as `name`, intact, and passes its smoke test."""
    path = client.path("m")
    assert sha256(path) == sha256(env.models[name][0])
    assert client.installed("m")["release"] == release
    SmokeTest(load_npz_model)(path, env.models[name][1], 1e-4, 1e-5)
