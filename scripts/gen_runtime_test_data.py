"""Write the model files the C tests and the C example use (runtime/tests/data).

    python scripts/gen_runtime_test_data.py [OUT_DIR]

tiny_cnn.ember covers conv2d (+ folded batch norm, fused relu), max pool, adaptive pool, reshape,
linear and softmax; *.input.bin / *.expected.bin hold raw float32 input and PyTorch's output.
tests/core/test_runtime_data.py checks the committed files are exactly what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

import ember

OUT = Path(__file__).resolve().parents[1] / "runtime" / "tests" / "data"


def tiny_cnn() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(7)
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2),
        nn.ReLU6(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
        nn.Softmax(dim=-1),
    ).eval()
    with torch.no_grad():
        m[1].running_mean.uniform_(-0.2, 0.2)
        m[1].running_var.uniform_(0.5, 1.5)
    return m, (torch.randn(1, 3, 16, 16),)


def write(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    model, inputs = tiny_cnn()
    prog = ember.export(model, inputs)
    with torch.no_grad():
        expected = model(*inputs)
    files = [prog.save(out / "tiny_cnn.ember")]
    for name, t in (("input", inputs[0]), ("expected", expected)):
        p = out / f"tiny_cnn.{name}.bin"
        p.write_bytes(t.numpy().astype("<f4").tobytes())
        files.append(p)
    return files


if __name__ == "__main__":
    for f in write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(f"wrote {f}")
