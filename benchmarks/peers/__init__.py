"""The systems compared by benchmarks/compare.py, one module per system. Each turns a torch model into
its own artifact once (`prepare`) and gives a runner bound to the inputs for a thread count (`load`)."""

from __future__ import annotations

from peers.base import Case, Runner, System
from peers.ember_peer import EmberSystem
from peers.executorch_peer import ExecuTorchSystem
from peers.ort_peer import OrtSystem
from peers.torch_peer import TorchSystem

SYSTEMS: dict[str, type[System]] = {
    "ember": EmberSystem,
    "torch": TorchSystem,
    "executorch": ExecuTorchSystem,
    "ort": OrtSystem,
}

__all__ = ["SYSTEMS", "Case", "Runner", "System"]
