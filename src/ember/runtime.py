"""Python face of the C runtime. Needs only numpy (never imports torch)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ember.errors import EmberError, FormatError, RuntimeFailure, ShapeError, UnsupportedOpError
from ember.ir.dtypes import DType

try:
    from ember import _rt
except ImportError as _exc:  # pragma: no cover - exercised only on a broken install
    _rt = None
    _IMPORT_ERROR: ImportError | None = _exc
else:
    _IMPORT_ERROR = None

_STATUS = {
    1: ShapeError,
    2: FormatError,
    3: FormatError,
    4: UnsupportedOpError,
    5: EmberError,
    6: EmberError,
    7: RuntimeFailure,
}


_UNSUPPORTED = 4  # EMBER_ERR_UNSUPPORTED: an output the runtime cannot write into caller memory
_ALIGN = 64  # EMBER_ALIGN: bound inputs and outputs are read / written in place at this alignment


def aligned_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialized C-contiguous array whose data starts on a 64-byte boundary: Ember reads such
    inputs in place and writes outputs into such arrays without a copy."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    raw = np.empty(n + _ALIGN, np.uint8)
    off = (-raw.ctypes.data) % _ALIGN
    return raw[off : off + n].view(dt).reshape(shape)


def _require_rt() -> Any:
    if _rt is None:
        raise EmberError(
            f"the Ember C runtime extension is not built ({_IMPORT_ERROR}); reinstall with `pip install -e .`"
        )
    return _rt


def _raise(status: int, message: str, context: str = "") -> None:
    if status:
        cls = _STATUS.get(status, EmberError)
        raise cls(f"{context}{message}")


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.name}: {self.dtype}{list(self.shape)}"


def _to_numpy(x: Any) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


class Module:
    """A loaded .ember model. Call it with numpy arrays (or torch tensors); get a tuple of numpy arrays.

    The program is shared and read-only; each thread gets its own session (arena), made once.
    """

    def __init__(self, program: Any, threads: int | None, source: str) -> None:
        self._p = program
        self._threads = int(threads or 0)
        self._local = threading.local()
        self.source = source
        self.inputs = [self._spec(program.input_info(i)) for i in range(program.num_inputs)]
        self.outputs = [self._spec(program.output_info(i)) for i in range(program.num_outputs)]

    @staticmethod
    def _spec(info: tuple[str, int, tuple[int, ...]]) -> TensorSpec:
        name, dt, shape = info
        return TensorSpec(name, DType(dt).to_numpy(), tuple(shape))

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [s.name for s in self.outputs]

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(self._p.metadata().decode("utf-8"))

    def feature_spec(self) -> Any:
        """The FeatureSpec shipped inside the file (`ember.export(..., features=spec)`), or None."""
        spec = self.metadata.get("user", {}).get("features")
        if spec is None:
            return None
        from ember.features.spec import FeatureSpec

        return FeatureSpec.from_json(json.dumps(spec))

    @property
    def memory(self) -> dict[str, int]:
        return {
            "arena_bytes": int(self._p.arena_bytes),
            "scratch_bytes": int(self._p.scratch_bytes),
            "weight_bytes": int(self._p.weight_bytes),
            "packed_weight_bytes": 0,
            "arena_lower_bound_bytes": int(self._p.lower_bound_bytes),
        }

    def _session(self) -> Any:
        s = getattr(self._local, "session", None)
        if s is None:
            st, msg, s = _rt.Session.create(self._p, self._threads, False)  # type: ignore[union-attr]
            _raise(st, msg, "cannot create a session: ")
            self._local.session = s
        return s

    def _check_inputs(self, inputs: tuple[Any, ...]) -> list[np.ndarray]:
        if len(inputs) != len(self.inputs):
            want = ", ".join(map(str, self.inputs))
            raise ShapeError(f"model takes {len(self.inputs)} input(s) ({want}), got {len(inputs)}")
        arrays = []
        for spec, x in zip(self.inputs, inputs):
            a = _to_numpy(x)
            if a.shape != spec.shape:
                raise ShapeError(
                    f"input '{spec.name}' must have shape {list(spec.shape)}, got {list(a.shape)} "
                    "(this model was exported with static shapes; re-export for other shapes)"
                )
            if a.dtype != spec.dtype:
                if a.dtype.kind == spec.dtype.kind == "f" or (
                    a.dtype.kind in "iu" and spec.dtype.kind == "i"
                ):
                    a = a.astype(spec.dtype)
                else:
                    raise ShapeError(f"input '{spec.name}' must be {spec.dtype}, got {a.dtype}")
            arrays.append(np.ascontiguousarray(a))
        return arrays

    def run(self, *inputs: Any, out: Any = None) -> tuple[np.ndarray, ...]:
        """Run the model. `out`: optional arrays (one per output, its shape and dtype, C-contiguous) to
        receive the results instead of new ones; 64-byte aligned ones are written in place."""
        s = self._session()
        checked = self._check_inputs(inputs)  # kept alive (referenced) until the run returns
        outs = self._check_out(out) if out is not None else None
        for i, a in enumerate(checked):
            # 64-byte aligned arrays are read in place (large numpy arrays usually are); others copied
            bind = a.ctypes.data % 64 == 0 and a.nbytes > 0
            _raise(*(s.bind_input(i, a) if bind else s.set_input(i, a)), f"input {i}: ")
        # outputs are written straight into fresh 64-byte aligned arrays where the runtime allows it
        # (not views or pass-through inputs: those are read back), and unbound after the run, so the
        # session never keeps a pointer to memory the caller owns
        bindable = self._bindable(s)
        if outs is None:
            outs = [aligned_empty(spec.shape, spec.dtype) for spec in self.outputs]
        bound = []
        try:
            for i, y in enumerate(outs):
                if bindable[i] and y.nbytes > 0 and y.ctypes.data % _ALIGN == 0:
                    st, msg = s.bind_output(i, y)
                    if st == 0:
                        bound.append(i)
                    elif st == _UNSUPPORTED:
                        bindable[i] = False
                    else:
                        _raise(st, msg, f"output {i}: ")
            _raise(*s.run())
        finally:
            for i in bound:
                s.unbind_output(i)
        for i, y in enumerate(outs):
            if i not in bound:
                _raise(*s.read_output(i, y))
        return tuple(outs)

    def _check_out(self, out: Any) -> list[np.ndarray]:
        arrays = list(out) if isinstance(out, (list, tuple)) else [out]
        if len(arrays) != len(self.outputs):
            raise ShapeError(f"out= needs {len(self.outputs)} array(s), one per output; got {len(arrays)}")
        for spec, y in zip(self.outputs, arrays):
            if not isinstance(y, np.ndarray) or y.shape != spec.shape or y.dtype != spec.dtype:
                got = f"{y.dtype}{list(y.shape)}" if isinstance(y, np.ndarray) else type(y).__name__
                want = f"{spec.dtype}{list(spec.shape)}"
                raise ShapeError(f"out= for '{spec.name}' must be a {want} array, got {got}")
            if not (y.flags.c_contiguous and y.flags.writeable):
                raise ShapeError(f"out= for '{spec.name}' must be C-contiguous and writeable")
        return arrays

    def _bindable(self, s: Any) -> list[bool]:
        flags = getattr(self._local, "bindable", None)
        if flags is None:
            flags = [True] * len(self.outputs)
            self._local.bindable = flags
        return flags

    __call__ = run

    def profile(self, *inputs: Any, runs: int = 10) -> list[dict[str, Any]]:
        """Per-node time (median over `runs`) as dicts: node, op, ms — slowest first."""
        s = self._session()
        s.set_profiling(True)
        try:
            samples = []
            for _ in range(max(1, runs)):
                self.run(*inputs)
                samples.append(s.node_times())
        finally:
            s.set_profiling(False)
        med = np.median(np.asarray(samples, dtype=np.float64), axis=0) if samples[0] else []
        rows = []
        for i, ns in enumerate(med):
            name, op = self._p.node_info(i)
            rows.append({"node": name, "op": op, "kernel": self._p.node_kernel(i), "ms": float(ns) / 1e6})
        return sorted(rows, key=lambda r: -r["ms"])

    def __repr__(self) -> str:
        ins = ", ".join(map(str, self.inputs))
        outs = ", ".join(map(str, self.outputs))
        return f"<ember.Module {self.source}: ({ins}) -> ({outs})>"


def load(
    path: str | os.PathLike[str], threads: int | None = None, verify: bool = True, reference: bool = False
) -> Module:
    """Map and validate `path`. `reference=True` runs only the reference kernels (the oracle)."""
    rt = _require_rt()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise EmberError(f"no such model file: {path}")
    st, msg, prog = rt.Program.load_file(path, verify, reference)
    _raise(st, msg, f"cannot load {path}: ")
    return Module(prog, threads, path)


def load_bytes(
    data: bytes, threads: int | None = None, verify: bool = True, reference: bool = False
) -> Module:
    rt = _require_rt()
    st, msg, prog = rt.Program.load_bytes(bytes(data), verify, reference)
    _raise(st, msg, "cannot load model bytes: ")
    return Module(prog, threads, "<memory>")


def kernels() -> list[tuple[str, str]]:
    """(op, dtype) pairs this runtime build can run."""
    return [(name, DType(dt).short) for _op, name, dt in _require_rt().kernels()]
