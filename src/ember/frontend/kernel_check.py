"""Check a graph against the (op, dtype) kernels the compiled runtime reports, at export time, so an
op the device cannot run fails here, naming the op and the model source line."""

from __future__ import annotations

import warnings

from ember.errors import UnsupportedOpError
from ember.ir.dtypes import DType
from ember.ir.graph import Graph

# which input's dtype selects the kernel (mirrors runtime/src/kernels.c key_input)
_KEY_INPUT = {"where": 1}


def runtime_kernels() -> set[tuple[str, DType]] | None:
    try:
        from ember import _rt
    except ImportError:
        return None
    return {(name, DType(dt)) for _op, name, dt in _rt.kernels()}


def check_kernels(graph: Graph) -> None:
    available = runtime_kernels()
    if available is None:
        warnings.warn(
            "the Ember C runtime is not built; export could not check kernels against it", stacklevel=2
        )
        return
    for node in graph.nodes:
        key = node.inputs[_KEY_INPUT.get(node.op, 0)].dtype
        if (node.op, key) not in available:
            have = sorted(d.short for (op, d) in available if op == node.op)
            raise UnsupportedOpError(
                f"the Ember runtime has no {node.op} kernel for {key.short} "
                f"(it has: {', '.join(have) or 'none'}), "
                f"needed at {node.source or node.name}. Cast that tensor in the model, or use a supported op."
            )
