"""Calibration data and tapped runs: run the fp32 graph in the C runtime with chosen intermediate
values added as outputs, batch by batch."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ember.errors import EmberError
from ember.ir.graph import Graph, Value


def as_batches(calibration: Any, inputs: list[Value]) -> list[tuple[np.ndarray, ...]]:
    """Normalize calibration data to a list of input tuples. Accepts an iterable of arrays (single-input
    models), of tuples/lists of arrays, or of dicts keyed by input name; or a path to an .npz file
    (one array per input, named like the input or arr_0.., either one batch or several stacked on a new
    leading axis) or to a directory of such .npz files."""
    if isinstance(calibration, (str, os.PathLike)):
        return _from_path(Path(calibration), inputs)
    if isinstance(calibration, np.ndarray) or not isinstance(calibration, Iterable):
        raise EmberError("calibration must be an iterable of input batches, or a path to .npz data")
    out = []
    for b in calibration:
        if isinstance(b, dict):
            missing = [v.name for v in inputs if v.name not in b]
            if missing:
                raise EmberError(f"calibration batch lacks input(s) {missing}; it has {sorted(b)}")
            b = tuple(b[v.name] for v in inputs)
        elif not isinstance(b, (tuple, list)):
            b = (b,)
        if len(b) != len(inputs):
            raise EmberError(f"calibration batches must hold {len(inputs)} input(s), got {len(b)}")
        out.append(tuple(_np(x) for x in b))
    if not out:
        raise EmberError("calibration data is empty: give at least one batch")
    return out


def _np(x: Any) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _from_npz(path: Path, inputs: list[Value]) -> list[tuple[np.ndarray, ...]]:
    with np.load(path) as z:
        names = list(z.keys())
        if all(v.name in z for v in inputs):
            arrays = [z[v.name] for v in inputs]
        elif len(names) >= len(inputs):
            arrays = [z[f"arr_{i}"] if f"arr_{i}" in z else z[names[i]] for i in range(len(inputs))]
        else:
            raise EmberError(f"{path}: needs arrays for inputs {[v.name for v in inputs]}, has {names}")
    if all(a.shape == v.shape for a, v in zip(arrays, inputs)):
        return [tuple(arrays)]
    if all(a.shape[1:] == v.shape for a, v in zip(arrays, inputs)) and len({a.shape[0] for a in arrays}) == 1:
        return [tuple(a[i] for a in arrays) for i in range(arrays[0].shape[0])]
    want = ", ".join(f"{v.name}{list(v.shape)}" for v in inputs)
    got = ", ".join(str(list(a.shape)) for a in arrays)
    raise EmberError(f"{path}: arrays {got} match neither the inputs ({want}) nor a stack of them")


def _from_path(path: Path, inputs: list[Value]) -> list[tuple[np.ndarray, ...]]:
    if path.is_dir():
        files = sorted(path.glob("*.npz"))
        if not files:
            raise EmberError(f"calibration directory {path} holds no .npz files")
        return [b for f in files for b in _from_npz(f, inputs)]
    if not path.exists():
        raise EmberError(f"no such calibration file: {path}")
    return _from_npz(path, inputs)


def tapped_runs(
    graph: Graph, taps: list[int], batches: list[tuple[np.ndarray, ...]]
) -> Iterator[dict[int, Any]]:
    """For each batch: {uid: array} for the graph outputs (keys -1, -2, ...) and each tapped value uid."""
    from ember.passes.pipeline import compile_graph

    g = copy.deepcopy(graph)
    by_uid = {v.uid: v for n in g.nodes for v in n.outputs}
    by_uid.update({v.uid: v for v in g.inputs})
    tap_vals = [by_uid[u] for u in taps]
    n_out = len(g.outputs)
    g.outputs = list(g.outputs) + tap_vals
    mod = compile_graph(g, optimize=False).load()
    for b in batches:
        res = mod(*b)
        d: dict[int, Any] = {-(i + 1): res[i] for i in range(n_out)}
        d.update({u: res[n_out + i] for i, u in enumerate(taps)})
        yield d
