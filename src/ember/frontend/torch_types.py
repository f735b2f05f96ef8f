"""torch dtype ↔ Ember dtype (imports torch: frontend only)."""

from __future__ import annotations

import torch

from ember.errors import UnsupportedOpError
from ember.ir.dtypes import DType

_MAP = {
    torch.float32: DType.F32,
    torch.float64: DType.F32,  # Ember computes in float32; float64 constants are narrowed
    torch.int64: DType.I64,
    torch.int32: DType.I32,
    torch.bool: DType.BOOL,
    torch.int8: DType.I8,
    torch.uint8: DType.U8,
}


def dtype_from_torch(dt: torch.dtype) -> DType:
    if dt not in _MAP:
        raise UnsupportedOpError(
            f"tensor dtype {dt} is not supported by the Ember runtime (float32, int32, int64, bool are); "
            "convert the model with model.float() before export"
        )
    return _MAP[dt]
