"""ember.Program: an exported, optimized, memory-planned graph, ready to save as one .ember file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ember.errors import EmberError
from ember.ir import ops as opdefs
from ember.ir.graph import Graph
from ember.passes.memory_plan import MemoryPlan


class Program:
    def __init__(
        self, graph: Graph, plan: MemoryPlan, metadata: dict[str, Any], source_graph: Graph | None = None
    ) -> None:
        self.graph = graph
        # the optimized graph before runtime lowering (weight packing, views, in-place, plan): what
        # ember.quantize and other graph-level tools start from
        self.source_graph = source_graph
        self.plan = plan
        self.metadata = metadata
        self._bytes: bytes | None = None

    # -- facts -------------------------------------------------------------------------------
    @property
    def num_params(self) -> int:
        return sum(v.numel for v in self.graph.constants())

    def summary(self) -> dict[str, Any]:
        g = self.graph
        return {
            "inputs": [{"name": v.name, "dtype": v.dtype.short, "shape": list(v.shape)} for v in g.inputs],
            "outputs": [{"name": v.name, "dtype": v.dtype.short, "shape": list(v.shape)} for v in g.outputs],
            "nodes": len(g.nodes),
            "op_counts": g.op_counts(),
            "params": self.num_params,
            "arena_bytes": self.plan.arena_bytes,
            "arena_lower_bound_bytes": self.plan.lower_bound,
        }

    def file_metadata(self) -> dict[str, Any]:
        from ember import __version__
        from ember.format import layout

        return {
            "producer": f"ember {__version__}",
            "format_version": [layout.VERSION_MAJOR, layout.VERSION_MINOR],
            **self.summary(),
            "user": self.metadata,
        }

    # -- serialization -----------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        if self._bytes is None:
            from ember.format.writer import serialize

            self._bytes = serialize(self.graph, self.plan, self.file_metadata())
        return self._bytes

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (temp file, fsync, rename): a full disk or a crash never leaves half a model."""
        path = Path(path)
        data = self.to_bytes()
        tmp = ""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
            os.fchmod(fd, path.stat().st_mode & 0o777 if path.exists() else 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
            raise EmberError(
                f"could not write {path}: {exc.strerror or exc}; free disk space or choose another "
                "path (nothing was overwritten)"
            ) from exc
        return path

    def load(self, threads: int | None = None, reference: bool = False) -> Any:
        """The program in the C runtime, straight from memory."""
        from ember.runtime import load_bytes

        return load_bytes(self.to_bytes(), threads=threads, reference=reference)

    def __call__(self, *inputs: Any) -> tuple[np.ndarray, ...]:
        return self.load()(*inputs)

    # -- numpy reference interpreter (oracle and debugger) -----------------------------------
    def reference(self, *inputs: Any) -> tuple[np.ndarray, ...]:
        env: dict[int, np.ndarray] = {}
        for v, x in zip(self.graph.inputs, inputs):
            env[v.uid] = np.asarray(x, dtype=v.dtype.to_numpy())
        for node in self.graph.nodes:
            args = [v.data if v.is_const else env[v.uid] for v in node.inputs]
            for v, r in zip(node.outputs, opdefs.reference(node.opdef, args, node.attrs)):  # type: ignore[arg-type]
                env[v.uid] = np.asarray(r).reshape(v.shape)
        return tuple(v.data if v.is_const else env[v.uid] for v in self.graph.outputs)  # type: ignore[misc]

    def __repr__(self) -> str:
        s = self.summary()
        return f"<ember.Program {s['nodes']} nodes, {s['params']:,} params, arena {s['arena_bytes']:,} B>"
