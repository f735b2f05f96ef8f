"""ExecuTorch with the XNNPACK delegate: torch.export -> to_edge_transform_and_lower(XnnpackPartitioner)
-> .pte bytes -> _load_for_executorch_from_buffer -> forward. Threads: the runtime's global pthreadpool,
resized with _unsafe_reset_threadpool(N) before loading (XNNPACK takes the pool when a method loads)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from peers.base import Case, Runner, System


class ExecuTorchSystem(System):
    key = "executorch"
    title = "ExecuTorch+XNNPACK"

    def __init__(self) -> None:
        self._programs: dict[str, bytes] = {}
        self.thread_note: str | None = None

    def unavailable(self) -> str | None:
        try:
            import executorch  # noqa: F401
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner  # noqa: F401
            from executorch.extension.pybindings import portable_lib  # noqa: F401
        except ImportError as exc:
            return f"not installed ({exc.name}); pip install -e '.[bench]'"
        return None

    def version(self) -> str | None:
        from ember.bench.machine import version

        return version("executorch")

    def set_threads(self, threads: int) -> None:
        from executorch.extension.pybindings import portable_lib as pl

        try:
            pl._unsafe_reset_threadpool(threads)
            got = pl._threadpool_get_thread_count()
            self.thread_note = None if got == threads else f"asked for {threads} threads, pool has {got}"
        except (AttributeError, RuntimeError) as exc:
            self.thread_note = f"thread count not settable ({exc}); default pool used"

    def prepare(self, case: Case, workdir: Path) -> dict[str, Any]:
        import torch
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        hit = self.cached(case, ".pte")
        if hit is not None:
            self._programs[case.key] = hit[0].read_bytes()
            return hit[1]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation chatter from the lowering passes
            ep = torch.export.export(case.model, case.inputs, strict=False)
            edge = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()])
        # what stayed outside the delegate runs on ExecuTorch's portable (reference) kernels
        gm = edge.exported_program().graph_module
        delegated, portable = 0, {}
        for n in gm.graph.nodes:
            if n.op != "call_function":
                continue
            name = getattr(n.target, "__name__", str(n.target))
            if "call_delegate" in name:
                delegated += 1
            elif name not in ("getitem",):
                portable[name] = portable.get(name, 0) + 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            et = edge.to_executorch()
        buf = bytes(et.buffer)
        self._programs[case.key] = buf
        info = {
            "export_s": time.perf_counter() - t0,
            "file_bytes": len(buf),
            "xnnpack_partitions": delegated,
            "non_delegated_ops": dict(sorted(portable.items(), key=lambda kv: -kv[1])),
        }
        self.store(case, ".pte", buf, info)
        return info

    def load(self, case: Case, threads: int) -> Runner:
        from executorch.extension.pybindings import portable_lib as pl

        buf = self._programs[case.key]  # the runner keeps the program bytes alive as long as the module
        module = pl._load_for_executorch_from_buffer(buf)
        inputs = tuple(t.contiguous() for t in case.inputs)

        def run() -> list[Any]:
            assert buf is not None
            return [o.numpy() if hasattr(o, "numpy") else o for o in module.forward(inputs)]

        return run

    def release(self, case: Case) -> None:
        self._programs.pop(case.key, None)
