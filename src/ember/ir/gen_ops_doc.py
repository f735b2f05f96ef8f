"""Generate docs/ops.md (op coverage) from the op table: `python -m ember.ir.gen_ops_doc [--check]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ember.ir.ops import ops_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "ops.md"

INTRO = """# Ember ops

Generated from `src/ember/ir/ops.py` by `python -m ember.ir.gen_ops_doc`; do not edit by hand.
Every op has a reference C kernel (runtime/kernels/ref) for float32 and, where listed in
runtime/src/kernels.c, integer and bool dtypes. Ids are part of the file format and never change.

How PyTorch maps onto these: `src/ember/frontend/aten.py` (core ATen after torch.export, keeping
linear, scaled_dot_product_attention, silu, hardswish, hardsigmoid, gelu, layer_norm, rms_norm,
hardtanh and relu6 whole). View-like aten ops (view, reshape, flatten, squeeze, unsqueeze) become
`reshape` (an alias, no copy); transpose/t become `permute`; select/split/unbind become `slice`;
relu6/hardtanh become `clamp`; masked_fill becomes `where`; bmm/mm become `matmul` (or `linear`
when the right operand is a constant); constant advanced indexing becomes `embedding`.

"""


def render() -> str:
    return INTRO + ops_markdown() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    if args.check:
        if not DOC.exists() or DOC.read_text() != render():
            print(f"{DOC} is stale: run `python -m ember.ir.gen_ops_doc`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(render())
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
