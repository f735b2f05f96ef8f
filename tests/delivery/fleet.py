"""A simulated fleet on loopback: many DeviceClients (each its own cache, id and hardware) against one
dev server. Shared by the fleet test and benchmarks/delivery/bench_delivery.py."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from standin import load_npz_model

from ember.delivery import DeliveryError, DeviceClient, SmokeTest
from ember.delivery.device import DeviceProfile

PROFILES = [
    DeviceProfile(frozenset({"avx2", "fma"}), 8192, "0.1.0", 1),
    DeviceProfile(frozenset({"neon", "dotprod"}), 4096, "0.1.0", 1),
    DeviceProfile(frozenset({"neon"}), 1024, "0.1.0", 1),
    DeviceProfile(frozenset(), 512, "0.1.0", 1),
]


class FailingSmoke(SmokeTest):
    """Injected failures: on devices chosen by hash, releases in `bad` fail their smoke test."""

    def __init__(self, device_id: str, bad: set[int], rate: float):
        super().__init__(load_npz_model)
        self.fail = hashlib.sha256(device_id.encode()).digest()[0] / 256 < rate
        self.bad = bad

    def __call__(self, model_path: Path, smoke_path: Path, rtol: float, atol: float) -> None:
        release = int(model_path.name.split("-")[0][1:])
        if self.fail and release in self.bad:
            from ember.delivery import SmokeTestError

            raise SmokeTestError(f"injected failure for release {release}")
        super().__call__(model_path, smoke_path, rtol, atol)


class Fleet:
    def __init__(
        self, root: Path, url: str, trusted_root: bytes, n: int, bad: set[int] | None = None, rate=0.0
    ):
        self.devices = []
        self.bad = bad if bad is not None else set()
        for i in range(n):
            device_id = f"device-{i:05d}"
            self.devices.append(
                DeviceClient(
                    root / device_id,
                    url,
                    trusted_root,
                    device_id=device_id,
                    profile=PROFILES[i % len(PROFILES)],
                    smoke_test=FailingSmoke(device_id, self.bad, rate),
                    timeout=30.0,
                )
            )

    def check_all(self, workers: int = 8) -> dict:
        """Every device checks for an update once. Returns counts by outcome, seconds taken and the
        releases now active."""
        t0 = time.monotonic()

        errors: dict[str, str] = {}

        def one(c: DeviceClient) -> str:
            try:
                return c.update("m").status
            except DeliveryError as exc:
                errors.setdefault(type(exc).__name__, f"{c.device_id}: {exc}")  # first of each kind
                return type(exc).__name__

        with ThreadPoolExecutor(workers) as pool:
            statuses = list(pool.map(one, self.devices))
        counts: dict[str, int] = {}
        for s in statuses:
            counts[s] = counts.get(s, 0) + 1
        return {"statuses": counts, "seconds": time.monotonic() - t0, "errors": errors}

    def releases(self) -> list[int | None]:
        return [(c.installed("m") or {}).get("release") for c in self.devices]

    def traffic(self) -> tuple[int, int]:
        return sum(c.stats.requests for c in self.devices), sum(c.stats.bytes_received for c in self.devices)
