"""Write one marked section of benchmarks/RESULTS.md (shared by the gemm_anatomy scripts)."""

from __future__ import annotations

from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parents[1] / "RESULTS.md"


def write_section(md: str, start: str, end: str, path: Path = RESULTS_MD) -> None:
    """Put `md` (which begins with `start` and ends with `end`) in place of the old section, or append it."""
    text = path.read_text()
    if start in text and end in text:
        text = text[: text.index(start)] + md + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + md + "\n"
    path.write_text(text)
