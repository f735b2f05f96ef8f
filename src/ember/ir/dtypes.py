"""Element types. The numeric codes are part of the .ember format (docs/format.md)."""

from __future__ import annotations

import enum

import numpy as np


class DType(enum.IntEnum):
    F32 = 1
    F16 = 2
    BF16 = 3
    I8 = 4
    U8 = 5
    I32 = 6
    I64 = 7
    BOOL = 8

    @property
    def itemsize(self) -> int:
        return _ITEMSIZE[self]

    @property
    def short(self) -> str:
        return self.name.lower()

    def to_numpy(self) -> np.dtype:
        if self not in _TO_NUMPY:
            raise TypeError(f"dtype {self.short} has no numpy equivalent")
        return np.dtype(_TO_NUMPY[self])

    @staticmethod
    def from_numpy(dt: np.dtype | type) -> DType:
        dt = np.dtype(dt)
        for k, v in _TO_NUMPY.items():
            if np.dtype(v) == dt:
                return k
        raise TypeError(
            f"numpy dtype {dt} is not an Ember dtype (expected one of float32, int32, int64, bool)"
        )


_ITEMSIZE = {
    DType.F32: 4,
    DType.F16: 2,
    DType.BF16: 2,
    DType.I8: 1,
    DType.U8: 1,
    DType.I32: 4,
    DType.I64: 8,
    DType.BOOL: 1,
}
_TO_NUMPY = {
    DType.F32: np.float32,
    DType.F16: np.float16,
    DType.I8: np.int8,
    DType.U8: np.uint8,
    DType.I32: np.int32,
    DType.I64: np.int64,
    DType.BOOL: np.bool_,
}

MAX_RANK = 8
