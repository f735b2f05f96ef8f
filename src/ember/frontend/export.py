"""torch.export → core ATen (keeping the composite ops Ember runs natively) → Ember IR → Program."""

from __future__ import annotations

import hashlib
import json
import operator
import warnings
from typing import Any

import numpy as np
import torch

from ember.errors import ExportError, ShapeError, UnsupportedOpError
from ember.frontend.aten import HANDLERS, Lowering
from ember.frontend.torch_types import dtype_from_torch
from ember.ir.graph import Graph, Value
from ember.program import Program

# Ops Ember runs as one kernel: keep them instead of decomposing them into core ATen.
PRESERVED = (
    "linear",
    "scaled_dot_product_attention",
    "silu",
    "hardswish",
    "hardsigmoid",
    "rms_norm",
    "layer_norm",
    "gelu",
    "hardtanh",
    "relu6",
)

# Creation ops with no tensor inputs: evaluated with torch at export time (static shapes).
_CREATION = {
    "aten.arange.default",
    "aten.arange.start",
    "aten.arange.start_step",
    "aten.full.default",
    "aten.zeros.default",
    "aten.ones.default",
    "aten.scalar_tensor.default",
    "aten.empty.memory_format",
    "aten.full_like.default",
    "aten.zeros_like.default",
    "aten.ones_like.default",
    "aten.tril.default",
    "aten.triu.default",
}
_IGNORED = {
    "aten._assert_tensor_metadata.default",
    "aten._assert_scalar.default",
    "aten.sym_constrain_range_for_size.default",
    "aten._assert_async.msg",
}


def _decomposition_table() -> dict[Any, Any]:
    table = torch.export.default_decompositions()
    for name in PRESERVED:
        packet = getattr(torch.ops.aten, name, None)
        if packet is None:
            continue
        for overload in packet.overloads():
            table.pop(getattr(packet, overload), None)
    return table


def _source_line(node: torch.fx.Node) -> str:
    trace = node.meta.get("stack_trace") or ""
    lines = [ln.strip() for ln in trace.strip().splitlines() if ln.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("File "):
            where = lines[i].replace("File ", "")
            code = lines[i + 1] if i + 1 < len(lines) else ""
            return f"{where}: {code}"
    return "(source line unknown)"


def _supported_ops() -> str:
    names = sorted({k.split(".")[1] for k in HANDLERS})
    return ", ".join(names)


def _unsupported(target: str, node: torch.fx.Node, why: str = "") -> UnsupportedOpError:
    reason = f" ({why})" if why else ""
    return UnsupportedOpError(
        f"Ember cannot run {target}{reason}, used at {_source_line(node)}. "
        f"Supported aten ops: {_supported_ops()}. Rewrite that part of the model with supported ops, "
        "or file an issue with the op name."
    )


class _Lowerer:
    def __init__(self, ep: torch.export.ExportedProgram) -> None:
        self.ep = ep
        self.g = Graph()
        self.lw = Lowering(self.g)
        self.env: dict[str, Any] = {}

    def run(self) -> Graph:
        sig = self.ep.graph_signature
        consts: dict[str, Any] = {}
        for spec in sig.input_specs:
            kind = spec.kind.name
            if kind in ("PARAMETER", "BUFFER", "CONSTANT_TENSOR"):
                src = self.ep.state_dict.get(spec.target)
                if src is None:
                    src = self.ep.constants.get(spec.target)
                consts[spec.arg.name] = src
        for node in self.ep.graph.nodes:
            if node.op == "placeholder":
                self._placeholder(node, consts)
            elif node.op == "call_function":
                self._call(node)
            elif node.op == "output":
                self._output(node)
        return self.g

    def _placeholder(self, node: torch.fx.Node, consts: dict[str, Any]) -> None:
        if node.name in consts:
            t = consts[node.name]
            if not isinstance(t, torch.Tensor):
                raise ExportError(f"constant input {node.name} is a {type(t).__name__}, expected a tensor")
            self.env[node.name] = self._const(t, node.name)
            return
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            self.env[node.name] = val
            return
        shape = []
        for d in val.shape:
            if not isinstance(d, int):
                raise ShapeError(
                    f"input '{node.name}' has a dynamic dimension ({d}); Ember needs static shapes "
                    "for now (dynamic shapes come later): export with fixed-size example inputs"
                )
            shape.append(d)
        self.env[node.name] = self.g.add_input(node.name, dtype_from_torch(val.dtype), shape)

    def _const(self, t: torch.Tensor, name: str) -> Value:
        arr = t.detach().cpu().contiguous()
        if arr.dtype in (torch.float64, torch.float16, torch.bfloat16):
            arr = arr.float()
        dtype_from_torch(arr.dtype)
        return self.g.const(arr.numpy().copy(), name=name)

    def _map(self, a: Any) -> Any:
        if isinstance(a, torch.fx.Node):
            return self.env[a.name]
        if isinstance(a, (list, tuple)):
            return type(a)(self._map(x) for x in a)
        if isinstance(a, dict):
            return {k: self._map(v) for k, v in a.items()}
        return a

    @staticmethod
    def _tensors(x: Any) -> list[Any]:
        if isinstance(x, Value):
            return [x]
        if isinstance(x, (list, tuple)):
            return [t for v in x for t in _Lowerer._tensors(v)]
        if isinstance(x, dict):
            return [t for v in x.values() for t in _Lowerer._tensors(v)]
        return []

    def _fold(self, node: torch.fx.Node, args: Any, kwargs: Any) -> Any:
        """Evaluate an op whose tensor inputs are all constants with torch itself (exact semantics)."""

        def to_torch(x: Any) -> Any:
            if isinstance(x, Value):
                assert x.data is not None
                return torch.from_numpy(np.array(x.data))
            if isinstance(x, (list, tuple)):
                return type(x)(to_torch(v) for v in x)
            return x

        with torch.no_grad():
            out = node.target(*to_torch(args), **{k: to_torch(v) for k, v in kwargs.items()})  # type: ignore[operator]

        def back(x: Any) -> Any:
            if isinstance(x, torch.Tensor):
                return self._const(x, node.name)
            if isinstance(x, (list, tuple)):
                return type(x)(back(v) for v in x)
            return x

        return back(out)

    def _call(self, node: torch.fx.Node) -> None:
        if node.target is operator.getitem:
            seq, idx = self._map(node.args[0]), node.args[1]
            self.env[node.name] = seq[idx]
            return
        target = str(node.target)
        if target in _IGNORED:
            return
        val = node.meta.get("val")
        if isinstance(val, (int, float, bool)) and not isinstance(val, torch.Tensor):
            self.env[node.name] = val  # symbolic size of a static shape
            return
        args, kwargs = self._map(node.args), self._map(dict(node.kwargs))
        tensors = self._tensors(args) + self._tensors(kwargs)
        if (tensors and all(t.is_const for t in tensors)) or (not tensors and target in _CREATION):
            try:
                self.env[node.name] = self._fold(node, args, kwargs)
                return
            except Exception as exc:  # noqa: BLE001 - fall through to the handler, which explains itself
                if target not in HANDLERS:
                    raise _unsupported(target, node, f"constant evaluation failed: {exc}") from exc
        handler = HANDLERS.get(target)
        if handler is None:
            raise _unsupported(target, node)
        self.lw.source = _source_line(node)
        self.lw.name = node.name
        self.lw.source_op = target
        try:
            self.env[node.name] = handler(self.lw, tuple(args), dict(kwargs))
        except NotImplementedError as exc:
            raise _unsupported(target, node, str(exc)) from exc
        except ValueError as exc:
            raise ExportError(f"lowering {target} at {_source_line(node)} failed: {exc}") from exc

    def _output(self, node: torch.fx.Node) -> None:
        outs = self._map(node.args[0])
        flat = self._tensors(outs)
        if not flat:
            raise ExportError("the model returns no tensors")
        self.g.outputs = flat


def lower(ep: torch.export.ExportedProgram) -> Graph:
    return _Lowerer(ep).run()


def _model_hash(ep: torch.export.ExportedProgram) -> str:
    h = hashlib.sha256()
    h.update(str(ep.graph).encode())
    for k in sorted(ep.state_dict):
        v = ep.state_dict[k]
        if isinstance(v, torch.Tensor):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def export(
    model: Any,
    example_inputs: tuple[Any, ...],
    *,
    optimize: bool = True,
    metadata: dict[str, Any] | None = None,
    features: Any = None,
    winograd: bool = True,
) -> Program:
    """torch.nn.Module (or ExportedProgram) + example inputs → optimized, planned `ember.Program`.

    `winograd=False` keeps 3x3 convolutions direct: their weights then take 9/16 of the bytes
    (a smaller file) at about 2x the multiplies.
    `features`: an `ember.features.FeatureSpec` to ship inside the file (read it back with
    `Module.feature_spec()`), so a model and the features it was trained on travel together."""
    from ember.passes.pipeline import compile_graph

    if isinstance(model, torch.export.ExportedProgram):
        ep = model
    else:
        if isinstance(model, torch.nn.Module):
            model = model.eval()
        try:
            with torch.no_grad():
                ep = torch.export.export(model, tuple(example_inputs))
        except Exception as exc:
            raise ExportError(f"torch.export could not capture the model: {exc}") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch-internal deprecation chatter
        ep = ep.run_decompositions(_decomposition_table())
    graph = lower(ep)
    meta = {"source_model_sha256": _model_hash(ep), **(metadata or {})}
    if features is not None:
        meta["features"] = json.loads(features.to_json())
    return compile_graph(graph, optimize=optimize, metadata=meta, winograd=winograd)
