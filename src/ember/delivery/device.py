"""What this device offers a model: ISA features, RAM, Ember runtime and format versions.

Read from /proc/cpuinfo and /proc/meminfo; every field can be overridden (tests, fleet simulation).
"""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path

# /proc/cpuinfo flag -> Ember feature name. ARM kernels say "asimd" for NEON and "asimddp" for dotprod.
_FLAG_ALIASES = {
    "avx2": "avx2",
    "fma": "fma",
    "avx512f": "avx512f",
    "avx512_vnni": "vnni",
    "avx_vnni": "vnni",
    "f16c": "f16c",
    "neon": "neon",
    "asimd": "neon",
    "asimddp": "dotprod",
    "asimdhp": "fp16",
    "i8mm": "i8mm",
    "sve": "sve",
}

DEFAULT_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class DeviceProfile:
    """The facts a variant's requirements are checked against."""

    isa: frozenset[str]
    ram_mb: int
    runtime_version: str
    format_version: int
    arch: str = ""

    def to_dict(self) -> dict:
        return {
            "isa": sorted(self.isa),
            "ram_mb": self.ram_mb,
            "runtime_version": self.runtime_version,
            "format_version": self.format_version,
            "arch": self.arch,
        }


def parse_cpu_features(cpuinfo: str) -> frozenset[str]:
    """Ember feature names from the text of /proc/cpuinfo (x86 `flags`, ARM `Features`)."""
    found: set[str] = set()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if not sep or key.strip().lower() not in ("flags", "features"):
            continue
        for flag in value.split():
            name = _FLAG_ALIASES.get(flag.lower())
            if name:
                found.add(name)
    return frozenset(found)


def parse_mem_total_mb(meminfo: str) -> int:
    """MemTotal from the text of /proc/meminfo, in MiB (0 if absent)."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            return int(parts[1]) // 1024  # kB
    return 0


def _runtime_versions() -> tuple[str, int]:
    import ember

    version = getattr(ember, "__version__", "0.0.0")
    try:  # the newest .ember format major version this build of the runtime reads
        from ember.format.layout import VERSION_MAJOR

        return version, int(VERSION_MAJOR)
    except Exception:
        return version, DEFAULT_FORMAT_VERSION


def detect(
    *,
    isa: frozenset[str] | set[str] | None = None,
    ram_mb: int | None = None,
    runtime_version: str | None = None,
    format_version: int | None = None,
    proc: Path = Path("/proc"),
) -> DeviceProfile:
    """Profile of this machine; any argument given replaces the detected value."""
    if isa is None:
        try:
            isa = parse_cpu_features((proc / "cpuinfo").read_text(errors="replace"))
        except OSError:
            isa = frozenset()
    if ram_mb is None:
        try:
            ram_mb = parse_mem_total_mb((proc / "meminfo").read_text(errors="replace"))
        except OSError:
            ram_mb = 0
    rt_version, fmt_version = _runtime_versions()
    return DeviceProfile(
        isa=frozenset(isa),
        ram_mb=int(ram_mb),
        runtime_version=runtime_version or rt_version,
        format_version=int(format_version if format_version is not None else fmt_version),
        arch=platform.machine(),
    )


_CELLULAR = ("wwan", "rmnet", "ppp", "ccmni", "usb")  # modems and tethering
_WIRED = ("eth", "en")


def network_metered(proc: Path = Path("/proc"), nmcli: bool = True) -> bool | None:
    """Best guess whether the default route is metered: NetworkManager's verdict when `nmcli` is
    there, else by the interface name (cellular -> True, wired -> False). None when unknown (Wi-Fi may
    be a phone's hotspot), which `update(require_unmetered=True)` treats as metered."""
    iface = None
    try:
        for line in (proc / "net" / "route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 1 and fields[1] == "00000000":  # default route
                iface = fields[0]
                break
    except OSError:
        return None
    if iface is None:
        return None
    if nmcli:
        import shutil
        import subprocess

        exe = shutil.which("nmcli")
        if exe:
            try:
                out = subprocess.run(
                    [exe, "-t", "-g", "GENERAL.METERED", "device", "show", iface],
                    capture_output=True,
                    text=True,
                    timeout=2,
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                out = ""
            if out.startswith("yes"):
                return True
            if out.startswith("no"):
                return False
    if iface.startswith(_CELLULAR):
        return True
    if iface.startswith(_WIRED):
        return False
    return None
