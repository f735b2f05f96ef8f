"""SIGKILL the device client at random points of download and activation (>= 50 trials, real
subprocesses): after every kill the active model loads and verifies, and a restarted update finishes."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import load_npz_model, make_env

from ember.delivery import DeviceClient, SmokeTest

TRIALS = 50
HERE = Path(__file__).parent
SRC = HERE.parent.parent / "src"

CHILD = r"""
import sys
sys.path[:0] = [{src!r}, {here!r}]
from standin import load_npz_model
from ember.delivery import DeviceClient, SmokeTest
from conftest import X86
import time

def slow_load(path):  # a real runtime takes a while to load and run: widen the activation window
    time.sleep(0.1)
    return load_npz_model(path)

c = DeviceClient({cache!r}, {url!r}, open({root!r}, "rb").read(), profile=X86,
                 smoke_test=SmokeTest(slow_load), report=False)
print("go", flush=True)
r = c.update("m")
print("done", r.status, r.release, flush=True)
"""


def _child(cache: Path, url: str, root: Path) -> subprocess.Popen:
    code = CHILD.format(src=str(SRC), here=str(HERE), cache=str(cache), url=url, root=str(root))
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE
    )


def _wait_go(p: subprocess.Popen) -> None:
    line = p.stdout.readline()
    assert line.startswith("go"), (line, p.stderr.read())


def _phase(cache: Path) -> str:
    state = json.loads((cache / "state" / "m.json").read_text())
    if state["active"]["release"] == 2:
        return "activated"
    if state.get("trying"):
        return "smoke-test"
    if len(list((cache / "models" / "m").iterdir())) > 2:
        return "verified-not-activated"
    if list((cache / "partial").iterdir()):
        return "downloading"
    return "before-download"


@pytest.mark.slow
def test_sigkill_during_download_and_activation(tmp_path):
    env = make_env(tmp_path, throttle_bps=1_500_000)  # ~0.3 s to download release 2
    try:
        env.publish("1.0", "v1", seed=1)
        template = tmp_path / "template"
        c = env.client(str(template), report=False)
        assert c.update("m").release == 1
        env.publish("2.0", "v2", seed=2, pad=450_000)
        root = tmp_path / "root.json"
        root.write_bytes(env.reg.root_bytes_initial)

        def calibrate(n: int) -> float:
            """How long an uninterrupted update takes after the child is ready (re-measured as the
            machine's load changes, so kill times keep covering download and activation)."""
            calib = tmp_path / f"calib{n}"
            shutil.copytree(template, calib)
            p = _child(calib, env.server.url, root)
            _wait_go(p)
            t0 = time.monotonic()
            out, err = p.communicate(timeout=60)
            assert "done updated 2" in out, err
            shutil.rmtree(calib)
            return time.monotonic() - t0

        rng = random.Random(1234)
        phases: dict[str, int] = {}
        smoke = SmokeTest(load_npz_model)
        durations = []
        for trial in range(TRIALS):
            if trial % 10 == 0:
                duration = calibrate(trial)
                durations.append(round(duration, 2))
            cache = tmp_path / f"t{trial}"
            shutil.copytree(template, cache)
            # most kills land uniformly over the update, a third in its last 30% (smoke test + activate)
            if trial % 3 == 2:
                delay = rng.uniform(0.7 * duration, 1.02 * duration)
            else:
                delay = rng.uniform(0.0, duration)
            p = _child(cache, env.server.url, root)
            _wait_go(p)
            time.sleep(delay)
            os.kill(p.pid, signal.SIGKILL)
            p.communicate(timeout=30)
            phases[_phase(cache)] = phases.get(_phase(cache), 0) + 1

            after = DeviceClient(
                cache, env.server.url, env.reg.root_bytes_initial, report=False, smoke_test=smoke
            )
            active = after.installed("m")
            name = {1: "v1", 2: "v2"}[active["release"]]
            path = after.path("m")
            smoke(path, env.models[name][1], 1e-4, 1e-5)  # the active model loads and verifies
            if trial % 5 == 0:  # restart: the update completes, resuming any partial download
                after.update("m")
                assert after.installed("m")["release"] == 2
                smoke(after.path("m"), env.models["v2"][1], 1e-4, 1e-5)
            shutil.rmtree(cache)
        print(f"\nSIGKILL phases over {TRIALS} trials (update takes {durations} s): {phases}")
        assert sum(phases.values()) == TRIALS
        assert phases.get("downloading", 0) >= 5, phases
        assert phases.get("activated", 0) >= 3, phases
        assert phases.get("smoke-test", 0) >= 2, phases
    finally:
        env.server.stop()


if __name__ == "__main__":
    pytest.main([__file__, "-q", "-s"])
