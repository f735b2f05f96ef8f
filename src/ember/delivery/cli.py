"""`ember registry ...` (publisher) and `ember device ...` (device) commands.

Heavy imports (tuf, cryptography, numpy) happen inside the handlers so `ember --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ember.delivery.errors import RegistryError


def register(sub) -> None:
    reg = sub.add_parser("registry", help="publish models to a signed (TUF) repository and roll them out")
    rs = reg.add_subparsers(dest="registry_command", metavar="ACTION")
    reg.set_defaults(func=lambda _args: _usage(reg))

    p = rs.add_parser("init", help="create a repository with fresh keys")
    p.add_argument("dir", type=Path)
    p.add_argument(
        "--offline-keys", type=Path, required=True, help="directory for the root keys (keep offline)"
    )
    p.add_argument("--root-keys", type=int, default=1, help="number of root keys (default 1)")
    p.add_argument("--root-threshold", type=int, default=1, help="root signatures needed (default 1)")
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="ROLE=N",
        help="signatures needed for targets/snapshot/timestamp/rollout (that many keys are made); repeatable",
    )
    for role, days in (("root", 365), ("targets", 90), ("rollout", 7), ("snapshot", 7), ("timestamp", 1)):
        p.add_argument(f"--{role}-expiry-days", type=float, default=float(days))
    p.add_argument("--halt-failure-rate", type=float, default=0.2, help="auto-halt above this failure rate")
    p.add_argument("--halt-min-reports", type=int, default=20, help="... once this many devices reported")
    p.set_defaults(func=_init)

    p = rs.add_parser("publish", help="sign a new release of a model (one or more variants)")
    p.add_argument("dir", type=Path)
    p.add_argument("model")
    p.add_argument("--version", required=True)
    p.add_argument("--channel", default="stable")
    p.add_argument("--percent", type=float, default=0.0, help="initial rollout share (default 0: staged)")
    p.add_argument(
        "--variant",
        action="append",
        required=True,
        metavar="SPEC",
        help="name=N,file=PATH,smoke=NPZ[,isa=avx2+fma][,min-ram-mb=512][,min-runtime=0.1][,min-format=1]"
        "[,rtol=1e-4][,atol=1e-5]; repeat for each variant",
    )
    p.set_defaults(func=_publish)

    p = rs.add_parser("rollout", help="set the share of devices that get the newest release")
    _model_args(p)
    p.add_argument("--percent", type=float, required=True)
    p.set_defaults(func=_rollout)

    p = rs.add_parser("halt", help="stop the newest release from reaching more devices")
    _model_args(p)
    p.set_defaults(func=_halt)

    p = rs.add_parser("rollback", help="re-publish an older release's bytes under a new release counter")
    _model_args(p)
    p.add_argument("--to", type=int, default=None, help="release to restore (default: the last good one)")
    p.set_defaults(func=_rollback)

    p = rs.add_parser("status", help="rollout state and device reports")
    _model_args(p)
    p.set_defaults(func=_status)

    p = rs.add_parser("refresh", help="re-sign the timestamp (run from cron, more often than it expires)")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=_refresh)

    p = rs.add_parser(
        "rotate-key", help="replace a role's key (root/targets/snapshot/timestamp need --offline-keys)"
    )
    p.add_argument("dir", type=Path)
    p.add_argument("role", choices=["root", "targets", "snapshot", "timestamp", "rollout"])
    p.add_argument("--offline-keys", type=Path, default=None)
    p.set_defaults(func=_rotate)

    p = rs.add_parser("export-root", help="write the trusted root.json to embed in device builds")
    p.add_argument("dir", type=Path)
    p.add_argument("out", type=Path)
    p.set_defaults(func=_export_root)

    p = rs.add_parser("serve", help="development HTTP server: repository, Range requests, device reports")
    p.add_argument("dir", type=Path)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.set_defaults(func=_serve)

    dev = sub.add_parser("device", help="install and update models on this device")
    ds = dev.add_subparsers(dest="device_command", metavar="ACTION")
    dev.set_defaults(func=lambda _args: _usage(dev))
    p = ds.add_parser("update", help="check the repository and install a newer release if due")
    _device_args(p)
    p.add_argument("--unmetered-only", action="store_true", help="do nothing unless the network is unmetered")
    p.set_defaults(func=_device_update)
    p = ds.add_parser("status", help="installed release and file of a model (works offline)")
    _device_args(p)
    p.set_defaults(func=_device_status)
    p = ds.add_parser("info", help="what this device offers models (ISA features, RAM, versions)")
    p.set_defaults(func=_device_info)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path)
    p.add_argument("model")
    p.add_argument("--channel", default="stable")


def _device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model")
    p.add_argument("--cache", type=Path, required=True, help="the device's model cache directory")
    p.add_argument("--server", default="http://127.0.0.1:8765")
    p.add_argument("--root", type=Path, required=False, help="trusted root.json (needed for update)")
    p.add_argument("--channel", default="stable")
    p.add_argument("--disk-budget-mb", type=float, default=None)


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _open(args):
    from ember.delivery.registry import Registry

    return Registry(args.dir, getattr(args, "offline_keys", None))


def _init(args) -> int:
    from ember.delivery.registry import Registry, RegistryConfig

    cfg = RegistryConfig()
    for role in cfg.expiry_days:
        cfg.expiry_days[role] = getattr(args, f"{role}_expiry_days")
    cfg.thresholds["root"] = args.root_threshold
    for item in args.threshold:
        role, _, n = item.partition("=")
        if role not in cfg.thresholds or role == "root" or not n.isdigit():
            raise RegistryError(
                f"--threshold {item!r}: expected ROLE=N with ROLE one of targets, snapshot, timestamp, "
                "rollout (use --root-threshold for root)."
            )
        cfg.thresholds[role] = int(n)
    cfg.auto_halt_failure_rate = args.halt_failure_rate
    cfg.auto_halt_min_reports = args.halt_min_reports
    reg = Registry.init(args.dir, args.offline_keys, root_keys=args.root_keys, config=cfg)
    print(f"registry created in {reg.path}; root keys in {args.offline_keys}: move them offline.")
    print(f"embed {reg.metadata_dir / '1.root.json'} in device builds as the trusted root.")
    return 0


def parse_variant(spec: str):
    """'name=avx2,file=m.ember,smoke=s.npz,isa=avx2+fma,min-ram-mb=512' -> VariantSpec."""
    from ember.delivery.manifest import Requirements
    from ember.delivery.registry import VariantSpec

    fields = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise RegistryError(f"--variant {spec!r}: {part!r} is not key=value.")
        fields[key.strip()] = value.strip()
    known = {"name", "file", "smoke", "isa", "min-ram-mb", "min-runtime", "min-format", "rtol", "atol"}
    unknown = set(fields) - known
    missing = {"name", "file", "smoke"} - set(fields)
    if unknown or missing:
        raise RegistryError(
            f"--variant {spec!r}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}; "
            f"expected name, file, smoke and optionally {sorted(known - {'name', 'file', 'smoke'})}."
        )
    try:
        req = Requirements(
            isa=tuple(sorted(x for x in fields.get("isa", "").split("+") if x)),
            min_ram_mb=int(fields.get("min-ram-mb", 0)),
            min_runtime=fields.get("min-runtime", "0"),
            min_format=int(fields.get("min-format", 0)),
        )
        return VariantSpec(
            fields["name"],
            Path(fields["file"]),
            Path(fields["smoke"]),
            req,
            float(fields.get("rtol", 1e-4)),
            float(fields.get("atol", 1e-5)),
        )
    except ValueError as exc:
        raise RegistryError(f"--variant {spec!r}: {exc}") from None


def _publish(args) -> int:
    variants = [parse_variant(s) for s in args.variant]
    release = _open(args).publish(
        args.model, args.version, variants, channel=args.channel, percent=args.percent
    )
    print(f"published {args.model} {args.version} as release {release} on {args.channel} at {args.percent}%")
    if args.percent == 0:
        print(f"nothing ships yet: run `ember registry rollout {args.dir} {args.model} --percent P`")
    return 0


def _rollout(args) -> int:
    st = _open(args).rollout(args.model, args.percent, channel=args.channel)
    print(f"{args.model} release {st.release} on {st.channel}: {st.percent}% of devices")
    return 0


def _halt(args) -> int:
    st = _open(args).halt(args.model, channel=args.channel)
    print(f"{args.model}: halted" if st else f"{args.model}: already halted")
    return 0


def _rollback(args) -> int:
    release = _open(args).rollback(args.model, channel=args.channel, to_release=args.to)
    print(f"{args.model}: re-published the older release as release {release} at 100%")
    return 0


def _status(args) -> int:
    from ember.delivery.reports import ReportStore

    reg = _open(args)
    states = [s for s in reg.channels() if s.model == args.model]
    if not states:
        raise RegistryError(f"{args.model!r} is not published in {args.dir}.")
    out = {"channels": [s.__dict__ for s in states]}
    db = reg.path / "reports.sqlite"
    empty = {"releases": {}, "devices_running": {}, "auto_halts": []}
    out.update(ReportStore(db).summary(args.model) if db.exists() else empty)
    _print(out)
    return 0


def _refresh(args) -> int:
    print("re-signed: " + ", ".join(_open(args).refresh()))
    return 0


def _rotate(args) -> int:
    keyid = _open(args).rotate_key(args.role)
    print(f"{args.role} key rotated; new key id {keyid}")
    return 0


def _export_root(args) -> int:
    args.out.write_bytes(_open(args).root_bytes())
    print(f"wrote {args.out}")
    return 0


def _serve(args) -> int:
    from ember.delivery.server import DevServer

    server = DevServer(_open(args), args.host, args.port)
    print(
        f"serving {args.dir / 'repo'} on {server.url} "
        f"(reports -> {args.dir / 'reports.sqlite'}); Ctrl-C stops"
    )
    server.start()
    try:
        server._bg_threads[0].join()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _client(args, need_root: bool):
    from ember.delivery.client import DeviceClient

    if args.root is None:
        if need_root:
            raise RegistryError(
                "--root ROOT.json (the trusted root from `ember registry export-root`) is required."
            )
        root = b""
    else:
        root = args.root.read_bytes()
    budget = None if args.disk_budget_mb is None else int(args.disk_budget_mb * 1024 * 1024)
    from ember.delivery.device import network_metered

    return DeviceClient(
        args.cache,
        args.server,
        root,
        channel=args.channel,
        disk_budget=budget,
        network_metered=network_metered,
    )


def _device_update(args) -> int:
    result = _client(args, need_root=True).update(args.model, require_unmetered=args.unmetered_only)
    _print(result.__dict__)
    return 0


def _device_status(args) -> int:
    client = _client(args, need_root=False)
    _print({"active": client.installed(args.model), "path": client.path(args.model)})
    return 0


def _device_info(args) -> int:
    from ember.delivery.device import detect

    _print(detect().to_dict())
    return 0


if __name__ == "__main__":  # pragma: no cover - for trying the commands without ember.cli
    parser = argparse.ArgumentParser(prog="ember")
    register(parser.add_subparsers())
    ns = parser.parse_args()
    sys.exit(ns.func(ns))
