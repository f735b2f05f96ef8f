"""Faults: interrupted downloads resume with HTTP Range, disk budget and a full disk, crashes during
the smoke test."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from conftest import assert_active, sha256

from ember.delivery import DiskBudgetError, DownloadError
from ember.delivery.fetcher import download_resumable


def test_resume_uses_range_and_fetches_only_the_rest(env):
    env.publish("1.0", "big", seed=7, pad=300_000)  # release 2, ~300 kB
    c = env.client()
    tinfo = c._updater()
    tinfo.refresh()
    path = "m/r2/generic/big.npz"
    info = tinfo.get_targetinfo(path)
    whole = env.models["big"][0].read_bytes()
    part = c.cache / "partial" / f"{info.hashes['sha256']}.part"
    part.write_bytes(whole[:200_000])  # what an interrupted download left
    r = c.update("m")
    assert r.release == 2
    assert_active(c, env, "big", 2)
    body_bytes = c.stats.bytes_received
    assert body_bytes < len(whole) - 150_000  # only the missing tail came over the wire
    assert not part.exists()


def test_server_ignoring_range_restarts_cleanly(env, tmp_path):
    part = tmp_path / "x.part"
    target = next((env.reg.targets_dir / "m" / "r1").rglob("*.v1.npz"))
    size = target.stat().st_size
    part.write_bytes(b"\0" * 10)  # wrong prefix; server will answer 206 from byte 10
    url = f"{env.server.url}/targets/{target.relative_to(env.reg.targets_dir)}"
    download_resumable(url, part, size)
    assert part.stat().st_size == size  # hash check (by the client) would now reject the wrong prefix


def test_short_body_is_kept_for_resume(env, tmp_path):
    target = next((env.reg.targets_dir / "m" / "r1").rglob("*.v1.npz"))
    url = f"{env.server.url}/targets/{target.relative_to(env.reg.targets_dir)}"
    part = tmp_path / "y.part"
    with pytest.raises(DownloadError, match="next try resumes"):
        download_resumable(url.replace(target.name, target.name), part, target.stat().st_size + 5)
    assert part.stat().st_size == target.stat().st_size


def test_disk_budget_refuses_before_downloading(env):
    c = env.client(disk_budget=10_000)
    c.update("m")
    env.publish("1.1", "big", seed=7, pad=300_000)
    with pytest.raises(DiskBudgetError, match="budget"):
        env.client(disk_budget=10_000).update("m")
    assert_active(c, env, "v1", 1)
    assert not list((c.cache / "partial").iterdir())


def _mount_tmpfs(path, size):
    path.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs to fill a disk for real (needs root): {exc}")


def test_disk_full_during_download_on_a_tiny_tmpfs(env, tmp_path):
    """A real full disk: the cache lives on a 400 kB tmpfs, and filler is written after the budget
    check so the download itself hits ENOSPC."""
    mnt = tmp_path / "tiny"
    _mount_tmpfs(mnt, "400k")
    try:
        c = env.client(name=str(mnt / "cache"))
        c.update("m")
        env.publish("1.1", "big", seed=7, pad=300_000)
        filler = mnt / "filler"
        c2 = env.client(name=str(mnt / "cache"))
        real_check = c2._check_budget

        def check_then_fill(needed, shas):
            real_check(needed, shas)  # passes: there is room right now
            free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
            with open(filler, "wb") as f:  # another app fills the disk meanwhile
                f.write(b"\0" * max(0, free - 50_000))

        c2._check_budget = check_then_fill
        with pytest.raises(DiskBudgetError, match="disk filled up.*installed model is untouched"):
            c2.update("m")
        assert_active(c2, env, "v1", 1)
        assert not list((c2.cache / "partial").iterdir())
        filler.unlink()
        assert env.client(name=str(mnt / "cache")).update("m").release == 2  # space is back
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_smoke_test_that_kills_the_process_is_marked_bad_after_retries(env):
    """A model that segfaults the runtime in its smoke test: the `trying` marker survives the crash,
    and after MAX_SMOKE_CRASHES attempts the release is marked bad and reported."""
    from ember.delivery.client import MAX_SMOKE_CRASHES

    c = env.client()
    c.update("m")
    env.publish("1.1", "v2", seed=2)

    class Crash(BaseException):
        pass

    def crashing_smoke(*a):
        raise Crash  # stands for SIGSEGV: nothing after this point runs

    for _ in range(MAX_SMOKE_CRASHES):
        with pytest.raises(Crash):
            env.client(smoke_test=crashing_smoke).update("m")
        assert_active(c, env, "v1", 1)
    assert env.client().update("m").status == "skipped-bad"
    assert env.server.reports.summary("m")["releases"][2]["failed"] == 1


def test_device_id_is_stable_per_cache(env):
    a = env.client().device_id
    assert a == env.client().device_id
    assert uuid.UUID(a)
    assert sha256  # imported for other tests


def test_reports_wait_in_the_outbox_while_the_server_is_down(env):
    from ember.delivery import serve

    c = env.client()
    c.update("m")
    env.publish("1.1", "v2", seed=2)
    env.client().update("m")
    env.server.stop()
    c.report_failure("m", "crashed in inference")  # offline: queued
    assert (c.cache / "outbox.jsonl").read_text().count("rolled_back") == 1
    assert_active(c, env, "v1", 1)
    env.server = serve(env.reg)  # back (on another port)
    assert env.client().update("m").status == "skipped-bad"
    assert not (c.cache / "outbox.jsonl").exists()
    assert env.server.reports.summary("m")["releases"][2]["rolled_back"] == 1


def test_verify_survives_a_crashing_active_model(env):
    """The active model starts crashing the process when loaded (say, after an OS update): verify()
    at app start notices the previous crash and rolls back after MAX_SMOKE_CRASHES."""
    from ember.delivery.client import MAX_SMOKE_CRASHES

    c = env.client()
    c.update("m")
    env.publish("1.1", "v2", seed=2)
    c.update("m")

    class Crash(BaseException):
        pass

    def crashing(model_path, *a):
        if "r2-" in model_path.name:
            raise Crash
        return None

    for _ in range(MAX_SMOKE_CRASHES):
        with pytest.raises(Crash):
            env.client(smoke_test=crashing).verify("m")
    assert env.client(smoke_test=crashing).verify("m").name.startswith("r1-")
    assert_active(c, env, "v1", 1)
    assert env.server.reports.summary("m")["releases"][2]["rolled_back"] == 1


def test_background_updates(env):
    import time

    c = env.client(network_metered=lambda: False)
    c.start_background(["m"], interval_s=0.05, require_unmetered=True)
    try:
        deadline = time.monotonic() + 10
        while c.installed("m") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        env.publish("1.1", "v2", seed=2)
        while (c.installed("m") or {}).get("release") != 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        c.stop_background()
    assert_active(c, env, "v2", 2)


def test_stale_partials_of_superseded_releases_are_removed(env):
    c = env.client()
    (c.cache / "partial" / ("0" * 64 + ".part")).write_bytes(b"x" * 1000)
    c.update("m")
    assert not list((c.cache / "partial").iterdir())


def test_write_failure_with_file_size_limit_in_a_subprocess(env, tmp_path):
    """Works without root too: RLIMIT_FSIZE makes the kernel fail the download's write (EFBIG), the same
    path as ENOSPC. The client in a child process reports DiskBudgetError; the old model is intact."""
    import sys
    from pathlib import Path

    c = env.client()
    c.update("m")
    env.publish("1.1", "big", seed=7, pad=300_000)
    root = tmp_path / "root.json"
    root.write_bytes(env.reg.root_bytes_initial)
    here = Path(__file__).parent
    code = f"""
import resource, signal, sys
sys.path[:0] = [{str(here.parent.parent / "src")!r}, {str(here)!r}]
from standin import load_npz_model
from conftest import X86
from ember.delivery import DeviceClient, DiskBudgetError, SmokeTest
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
c = DeviceClient({str(c.cache)!r}, {env.server.url!r}, open({str(root)!r}, "rb").read(), profile=X86,
                 smoke_test=SmokeTest(load_npz_model), report=False)
try:
    c.update("m")
except DiskBudgetError as exc:
    print("DiskBudgetError:", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=here)
    assert "DiskBudgetError: the disk filled up" in out.stdout, out.stderr
    assert_active(c, env, "v1", 1)
    assert not list((c.cache / "partial").iterdir())
    assert c.update("m").release == 2  # without the limit it goes through
