"""Publish -> device update -> activation, the no-update check, offline use, locks, rollback."""

from __future__ import annotations

import threading

import pytest
from conftest import ARM, X86, assert_active, sha256

from ember.delivery import (
    NotInstalledError,
    Requirements,
    SmokeTestError,
    UpdateInProgressError,
    VariantSpec,
)
from ember.delivery.fsutil import file_lock


def test_first_install_then_no_update_check_is_two_small_requests(env):
    c = env.client()
    r = c.update("m")
    assert (r.status, r.release, r.variant) == ("updated", 1, "generic")
    assert_active(c, env, "v1", 1)
    c2 = env.client()  # a new process on the same device: ngclient refreshes once per Updater
    r = c2.update("m")
    assert r.status == "up-to-date"
    assert [u.rsplit("/", 1)[1] for u in c2.stats.urls] == ["2.root.json", "timestamp.json"]
    assert c2.stats.bytes_received < 1024


def test_update_follows_new_release_and_keeps_last_good(env):
    c = env.client()
    c.update("m")
    env.publish("1.1", "v2", seed=2)
    assert env.client().update("m").release == 2
    assert_active(c, env, "v2", 2)
    assert c._state("m")["last_good"]["release"] == 1


def test_variant_choice_by_isa(env):
    from ember.delivery import Requirements

    m1, s1 = env.model("generic2", 3)
    m2, s2 = env.model("avx", 4)
    m3, s3 = env.model("neon", 5)
    env.reg.publish(
        "m",
        "2.0",
        [
            VariantSpec("generic", m1, s1),
            VariantSpec("avx2", m2, s2, Requirements(isa=("avx2", "fma"))),
            VariantSpec("neon", m3, s3, Requirements(isa=("dotprod", "neon"), min_ram_mb=1024)),
        ],
        percent=100,
    )
    assert env.client("x86", profile=X86).update("m").variant == "avx2"
    assert env.client("arm", profile=ARM).update("m").variant == "neon"
    small = ARM.__class__(isa=ARM.isa, ram_mb=512, runtime_version="0.1.0", format_version=1)
    assert env.client("small", profile=small).update("m").variant == "generic"


def test_path_before_install_and_offline(env):
    c = env.client()
    with pytest.raises(NotInstalledError, match="no version of 'm' has been installed"):
        c.path("m")
    c.update("m")
    env.server.stop()  # server down: the cached model keeps working
    offline = env.client()
    assert_active(offline, env, "v1", 1)
    from ember.delivery import DownloadError

    with pytest.raises(DownloadError, match="installed model stays active"):
        offline.update("m")
    assert_active(offline, env, "v1", 1)
    env.server = type("Stopped", (), {"stop": lambda self: None, "url": env.server.url})()


def test_damaged_active_file_falls_back_to_last_good(env):
    c = env.client()
    c.update("m")
    env.publish("1.1", "v2", seed=2)
    env.client().update("m")
    path = c.path("m")
    path.write_bytes(b"garbage")  # storage corruption
    assert sha256(c.path("m")) == sha256(env.models["v1"][0])
    assert c.installed("m")["release"] == 1


def test_smoke_failure_is_not_activated_and_reported(env):
    c = env.client()
    c.update("m")
    m, _ = env.model("v2", 2)
    _, wrong_smoke = env.model("other", 9)  # expected outputs of another model
    env.reg.publish("m", "1.1", [VariantSpec("generic", m, wrong_smoke)], percent=100)
    with pytest.raises(SmokeTestError, match="differs from the signed expected output"):
        env.client().update("m")
    assert_active(c, env, "v1", 1)
    assert env.client().update("m").status == "skipped-bad"  # not retried forever
    summary = env.server.reports.summary("m")
    assert summary["releases"][2]["failed"] == 1


def test_verify_rolls_back_when_active_model_stops_loading(env):
    c = env.client()
    c.update("m")
    env.publish("1.1", "v2", seed=2)
    c.update("m")
    # the runtime on this device can no longer run release 2 (e.g. an OS update broke it)
    from conftest import load_npz_model

    from ember.delivery import SmokeTest

    def picky(path):
        if "r2-" in path.name:
            raise RuntimeError("simulated load failure")
        return load_npz_model(path)

    c2 = env.client(smoke_test=SmokeTest(picky))
    c2.verify("m")
    assert_active(c2, env, "v1", 1)
    assert env.server.reports.summary("m")["releases"][2]["rolled_back"] == 1


def test_report_failure_from_app_rolls_back(env):
    c = env.client()
    c.update("m")
    env.publish("1.1", "v2", seed=2)
    c.update("m")
    c.report_failure("m", "crashed in inference")
    assert_active(c, env, "v1", 1)
    assert c.update("m").status == "skipped-bad"  # release 2 is marked bad on this device


def test_concurrent_update_is_refused(env):
    c = env.client()
    with file_lock(c.cache / "lock", blocking=True):
        errors = []
        t = threading.Thread(target=lambda: errors.append(_try(c)))
        t.start()
        t.join()
    assert isinstance(errors[0], UpdateInProgressError)
    assert "another update" in str(errors[0])
    assert c.update("m").status == "updated"


def _try(c):
    try:
        c.update("m")
    except Exception as exc:  # noqa: BLE001
        return exc
    return None


def test_unmetered_only_defers_without_a_probe(env):
    c = env.client()
    assert c.update("m", require_unmetered=True).status == "deferred"
    c2 = env.client(network_metered=lambda: False)
    assert c2.update("m", require_unmetered=True).status == "updated"
    assert env.client(network_metered=lambda: True).update("m", require_unmetered=True).status == "deferred"


def test_requirements_on_runtime_and_format(env):
    m, s = env.model("v2", 2)
    env.reg.publish(
        "m", "2.0", [VariantSpec("new", m, s, Requirements(min_runtime="0.2", min_format=2))], percent=100
    )
    from ember.delivery import NoCompatibleVariantError

    with pytest.raises(
        NoCompatibleVariantError, match=r"needs Ember runtime >= 0.2.*needs .ember format >= 2"
    ):
        env.client().update("m")
