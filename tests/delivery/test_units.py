"""Small pure pieces: /proc parsing, requirements, variant choice, rollout buckets, HTTP Range parsing."""

from __future__ import annotations

import pytest

from ember.delivery import NoCompatibleVariantError
from ember.delivery.device import DeviceProfile, detect, parse_cpu_features, parse_mem_total_mb
from ember.delivery.manifest import ReleaseInfo, Requirements, VariantInfo, rollout_bucket, select_variant
from ember.delivery.server import parse_range

X86_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma f16c bmi2\nprocessor\t: 1\n"
ARM_CPUINFO = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 asimdhp asimddp\n"


def test_cpu_and_memory_parsing(tmp_path):
    assert parse_cpu_features(X86_CPUINFO) == {"avx2", "fma", "f16c"}
    assert parse_cpu_features(ARM_CPUINFO) == {"neon", "dotprod", "fp16"}
    assert parse_mem_total_mb("MemTotal:       8061424 kB\nMemFree: 1 kB\n") == 7872
    (tmp_path / "cpuinfo").write_text(ARM_CPUINFO)
    (tmp_path / "meminfo").write_text("MemTotal: 2097152 kB\n")
    p = detect(proc=tmp_path)
    assert (p.isa, p.ram_mb) == ({"neon", "dotprod", "fp16"}, 2048)
    assert detect(isa={"avx2"}, ram_mb=5, proc=tmp_path).isa == {"avx2"}
    real = detect()  # this machine
    assert real.ram_mb > 0


def _variant(name, **req):
    return VariantInfo(name, f"m/r1/{name}/f", f"m/r1/{name}/smoke.npz", Requirements(**req))


def test_select_variant_most_specific_that_fits():
    rel = ReleaseInfo(
        "m",
        "1",
        "stable",
        1,
        (_variant("any"), _variant("avx2", isa=("avx2",)), _variant("big", min_ram_mb=9999)),
    )
    dev = DeviceProfile(frozenset({"avx2"}), 1000, "0.1.0", 1)
    assert select_variant(rel, dev).name == "avx2"
    only = ReleaseInfo("m", "1", "stable", 1, (_variant("big", min_ram_mb=9999),))
    with pytest.raises(NoCompatibleVariantError, match="big: needs 9999 MiB RAM, device has 1000 MiB"):
        select_variant(only, dev)


def test_rollout_buckets_are_stable_and_uniform():
    ids = [f"d{i}" for i in range(20000)]
    b = [rollout_bucket(i, "m", 7) for i in ids]
    assert b == [rollout_bucket(i, "m", 7) for i in ids]
    for pct in (1, 10, 50):
        assert abs(100 * sum(x < pct for x in b) / len(b) - pct) < 1.0
    assert rollout_bucket("d1", "m", 7) != rollout_bucket("d1", "m", 8)  # a new release reshuffles


@pytest.mark.parametrize(
    "header,expect",
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-5", (95, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=100-", "unsatisfiable"),
        ("bytes=5-2", "unsatisfiable"),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
    ],
)
def test_parse_range(header, expect):
    assert parse_range(header, 100) == expect


@pytest.mark.parametrize(
    "iface,expect", [("wwan0", True), ("rmnet_data0", True), ("eth0", False), ("wlan0", None)]
)
def test_metered_guess_from_default_route(tmp_path, iface, expect):
    from ember.delivery.device import network_metered

    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "route").write_text(
        "Iface\tDestination\tGateway\tFlags\n"
        f"lo\t0000007F\t00000000\t0001\n{iface}\t00000000\t0100A8C0\t0003\n"
    )
    assert network_metered(tmp_path, nmcli=False) is expect
    (tmp_path / "net" / "route").write_text("Iface\tDestination\n")
    assert network_metered(tmp_path, nmcli=False) is None
