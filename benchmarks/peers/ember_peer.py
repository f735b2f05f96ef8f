"""Ember: ember.export -> .ember file -> ember.load(threads=N) -> module(*numpy inputs)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from peers.base import Case, Runner, System


class EmberSystem(System):
    key = "ember"
    title = "Ember"

    def __init__(self) -> None:
        self._paths: dict[str, Path] = {}
        self.modules: dict[tuple[str, int], Any] = {}

    def version(self) -> str | None:
        import ember
        from ember.bench.machine import git_commit

        commit = git_commit(Path(ember.__file__).resolve().parent)
        return f"{ember.__version__}" + (f" ({commit})" if commit else "")

    def prepare(self, case: Case, workdir: Path) -> dict[str, Any]:
        import ember

        t0 = time.perf_counter()
        prog = ember.export(case.model, case.inputs)
        path = prog.save(workdir / f"{case.key}.ember")
        self._paths[case.key] = path
        summary = prog.summary()
        return {
            "export_s": time.perf_counter() - t0,
            "file_bytes": path.stat().st_size,
            "nodes": summary.get("nodes"),
        }

    def load(self, case: Case, threads: int) -> Runner:
        import ember

        mod = ember.load(self._paths[case.key], threads=threads)
        self.modules[(case.key, threads)] = mod
        inputs = case.np_inputs

        def run() -> list[Any]:
            return list(mod(*inputs))

        return run

    def release(self, case: Case) -> None:
        self._paths.pop(case.key, None)
        for k in [k for k in self.modules if k[0] == case.key]:
            del self.modules[k]
