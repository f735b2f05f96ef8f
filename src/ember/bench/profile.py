"""The per-op profile table: node timings from `Module.profile()` aggregated by op type and by node."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def by_op(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows {node, op, ms} -> one row per op type {op, count, ms, share}, slowest first."""
    total = 0.0
    acc: dict[str, dict[str, Any]] = {}
    for r in rows:
        ms = float(r["ms"])
        total += ms
        a = acc.setdefault(str(r["op"]), {"op": str(r["op"]), "count": 0, "ms": 0.0})
        a["count"] += 1
        a["ms"] += ms
    out = sorted(acc.values(), key=lambda a: -a["ms"])
    for a in out:
        a["share"] = a["ms"] / total if total > 0 else 0.0
    return out


def by_node(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows {node, op, ms} -> the same rows with their share of the total, slowest first."""
    rows = list(rows)
    total = sum(float(r["ms"]) for r in rows)
    out = [
        {
            "node": str(r["node"]),
            "op": str(r["op"]),
            "ms": float(r["ms"]),
            "share": float(r["ms"]) / total if total > 0 else 0.0,
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: -r["ms"])


def format_table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A plain-text table (no colour), so it reads the same in a terminal, a log and a test."""
    align = align or "l" + "r" * (len(header) - 1)
    widths = [
        max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
        for i in range(len(header))
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def op_table(rows: list[Mapping[str, Any]], top: int = 10) -> str:
    agg = by_op(rows)
    body = [[a["op"], str(a["count"]), f"{a['ms']:.3f}", f"{100 * a['share']:.1f}%"] for a in agg[:top]]
    if len(agg) > top:
        rest = agg[top:]
        body.append(
            [
                f"({len(rest)} more op types)",
                str(sum(a["count"] for a in rest)),
                f"{sum(a['ms'] for a in rest):.3f}",
                f"{100 * sum(a['share'] for a in rest):.1f}%",
            ]
        )
    return format_table(["op", "nodes", "ms", "share"], body)


def node_table(rows: list[Mapping[str, Any]], top: int = 10) -> str:
    nodes = by_node(rows)
    body = [[n["node"], n["op"], f"{n['ms']:.3f}", f"{100 * n['share']:.1f}%"] for n in nodes[:top]]
    return format_table(["node", "op", "ms", "share"], body, align="llrr")
