"""PyTorch eager under torch.inference_mode, torch.set_num_threads(N)."""

from __future__ import annotations

from typing import Any

from peers.base import Case, Runner, System, flatten_outputs


class TorchSystem(System):
    key = "torch"
    title = "PyTorch eager"

    def version(self) -> str | None:
        import torch

        return str(torch.__version__)

    def set_threads(self, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)

    def load(self, case: Case, threads: int) -> Runner:
        import torch

        model, inputs = case.model, case.inputs

        def run() -> list[Any]:
            with torch.inference_mode():
                outs = flatten_outputs(model(*inputs))
            return [o.numpy() for o in outs]

        return run
