"""The `ember` command. Each subcommand group lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys

from ember.errors import EmberError

# Modules that add subcommands: each has `register(subparsers) -> None`, and sets
# `func=handler(args) -> int` on its parsers. Heavy imports stay inside the handlers.
_COMMAND_MODULES = (
    "ember.commands.core",
    "ember.bench.cli",
    "ember.delivery.cli",
    "ember.features.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ember", description="Ember: PyTorch models on devices.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that part of Ember is not in this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EmberError as exc:
        print(f"ember: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
