"""Fleet simulation on loopback: 1,000 devices, staged rollout within +-3 points of the target, stable
membership as the percentage grows, and an automatic halt when injected failures pass the threshold."""

from __future__ import annotations

import pytest
from conftest import make_env
from fleet import Fleet

from ember.delivery.manifest import rollout_bucket

N = 1000


@pytest.mark.slow
def test_fleet_rollout_and_auto_halt(tmp_path):
    env = make_env(tmp_path)
    try:
        env.publish("1.0", "v1", seed=1)
        env.publish("1.1", "v2", seed=2, percent=10)
        fleet = Fleet(tmp_path / "fleet", env.server.url, env.reg.root_bytes_initial, N, bad={3}, rate=0.5)

        first = fleet.check_all()
        assert first["statuses"] == {"updated": N}, first  # "errors" holds the first message of each kind
        on2 = {c.device_id for c, r in zip(fleet.devices, fleet.releases(), strict=False) if r == 2}
        assert abs(100 * len(on2) / N - 10) <= 3, len(on2)

        env.reg.rollout("m", 30)
        second = fleet.check_all()
        on2_now = {c.device_id for c, r in zip(fleet.devices, fleet.releases(), strict=False) if r == 2}
        assert abs(100 * len(on2_now) / N - 30) <= 3, len(on2_now)
        assert on2 <= on2_now  # nobody left the rollout when it grew
        assert on2_now == {c.device_id for c in fleet.devices if rollout_bucket(c.device_id, "m", 2) < 30}

        # release 3 fails its smoke test on half the devices: the server halts it by itself
        env.publish("1.2", "v3", seed=3, percent=50)
        third = fleet.check_all()
        state = env.reg.rollout_state("m", "stable")
        assert state.halted and state.release == 3, state
        assert env.server.halts and env.server.halts[0]["release"] == 3
        summary = env.server.reports.summary("m")
        assert [h["release"] for h in summary["auto_halts"]] == [3]  # kept for `ember registry status`
        r3 = summary["releases"][3]
        reached = r3["ok"] + r3["failed"]
        # without the halt ~500 devices would have tried release 3
        assert 20 <= reached <= 120, r3
        assert fleet.releases().count(None) == 0  # every device still runs a model
        print(
            f"\nfleet of {N}: bootstrap {first['seconds']:.1f}s, 30% step {second['seconds']:.1f}s, "
            f"bad release {third['seconds']:.1f}s; halted after {env.server.halts[0]}; release 3 reached {r3}"
        )
    finally:
        env.server.stop()
