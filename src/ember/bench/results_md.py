"""One marked section of a results file (benchmarks/RESULTS.md): each benchmark script owns the text
between its start and end markers and rewrites only that."""

from __future__ import annotations

import os
from pathlib import Path

HEADER = "# Benchmark results\n"


def replace_section(text: str, section: str, start: str, end: str) -> str:
    """`text` with `section` (which begins with `start` and ends with `end`) in place of the old section,
    or appended after a blank line. Nothing outside the markers changes."""
    i, j = text.find(start), text.find(end)
    if i != -1 and j != -1 and j > i:
        return text[:i] + section + text[j + len(end) :]
    if not text:
        return HEADER + "\n" + section + "\n"
    return text.rstrip("\n") + "\n\n" + section + "\n"


def write_section(path: Path, section: str, start: str, end: str) -> None:
    """Replace (or add) the section in the file at `path`, creating it if needed. The new file is written
    beside it and renamed over it, so an interrupted run leaves the old file whole."""
    path = Path(path)
    old = path.read_text() if path.exists() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(replace_section(old, section, start, end))
    os.replace(tmp, path)
