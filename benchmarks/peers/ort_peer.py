"""ONNX Runtime CPU: torch.onnx.export (the dynamo exporter, else the legacy TorchScript one) ->
InferenceSession with intra_op_num_threads=N, all graph optimizations, sequential execution.

Intra-op spinning is switched off by default: the systems run interleaved in one process, and ORT's
spinning workers would otherwise burn the cores while the next system runs (`--ort-spin` turns it on)."""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from pathlib import Path
from typing import Any

from peers.base import Case, Runner, System


class OrtSystem(System):
    key = "ort"
    title = "ONNX Runtime"

    def __init__(self, spin: bool = False) -> None:
        self.spin = spin
        self._paths: dict[str, Path] = {}

    def unavailable(self) -> str | None:
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            return f"not installed ({exc.name}); pip install -e '.[bench]'"
        return None

    def version(self) -> str | None:
        import onnxruntime

        return str(onnxruntime.__version__)

    def prepare(self, case: Case, workdir: Path) -> dict[str, Any]:
        import torch

        hit = self.cached(case, ".onnx")
        if hit is not None:
            self._paths[case.key] = hit[0]
            return hit[1]
        path = workdir / f"{case.key}.onnx"
        t0 = time.perf_counter()
        errors: list[str] = []
        exporter = ""
        for dynamo in (True, False):
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    if dynamo:
                        torch.onnx.export(
                            case.model,
                            case.inputs,
                            str(path),
                            dynamo=True,
                            opset_version=18,
                            external_data=False,
                        )
                    else:
                        torch.onnx.export(case.model, case.inputs, str(path), dynamo=False, opset_version=17)
                exporter = "dynamo" if dynamo else "legacy (TorchScript)"
                break
            except Exception as exc:  # noqa: BLE001 - try the other exporter, report both
                errors.append(f"{'dynamo' if dynamo else 'legacy'}: {type(exc).__name__}: {str(exc)[:300]}")
        if not exporter:
            raise RuntimeError("torch.onnx.export failed: " + " | ".join(errors))
        self._paths[case.key] = path
        info = {
            "export_s": time.perf_counter() - t0,
            "file_bytes": path.stat().st_size,
            "exporter": exporter,
            "export_errors": errors,
        }
        self.store(case, ".onnx", path.read_bytes(), info)
        return info

    def load(self, case: Case, threads: int) -> Runner:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if not self.spin:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(str(self._paths[case.key]), so, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        if len(names) != len(case.np_inputs):
            raise RuntimeError(
                f"the ONNX graph takes {len(names)} inputs ({names}), the model {len(case.np_inputs)}"
            )
        feed = dict(zip(names, case.np_inputs))

        def run() -> list[Any]:
            return list(sess.run(None, feed))

        return run

    def release(self, case: Case) -> None:
        self._paths.pop(case.key, None)
