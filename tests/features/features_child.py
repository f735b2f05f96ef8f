"""Subprocess used by the crash and concurrency tests: logs events and acknowledges them on stdout.

usage: features_child.py DB ENTITY START COUNT MODE
MODE: event-full | event-normal | batch (acknowledges after each flush of 20) | read (vector() loop)
"""

from __future__ import annotations

import sys

from ember.features import Feature, FeatureSpec, FeatureStore

SPEC = FeatureSpec(
    "child",
    [
        Feature("n", event="e", agg="count", window="30d"),
        Feature("s", event="e", agg="sum", window="30d"),
        Feature("any", event="e", agg="count", window="30d", scope="any"),
        Feature("d", event="e", agg="count_distinct", key="attrs.k", window="30d"),
    ],
)
T0 = 1_770_000_000.0


def main() -> int:
    db, entity, start, count, mode = sys.argv[1:6]
    start, count = int(start), int(count)
    out = sys.stdout
    if mode == "read":
        fs = FeatureStore(db)
        for _ in range(count):
            fs.vector(SPEC, entity, at=T0 + 10.0)
        out.write("done\n")
        return 0
    durability = "batch" if mode == "batch" else "event"
    fs = FeatureStore(
        db, durability=durability, sync="normal" if mode == "event-normal" else "full", batch_size=10**9
    )
    pending = []
    for i in range(start, start + count):
        fs.log("e", entity, value=float(i), ts=T0 - (i % 1000) * 0.5, attrs={"k": i % 7})
        if durability == "event":
            out.write(f"{i}\n")
            out.flush()
        else:
            pending.append(i)
            if len(pending) == 20:
                fs.flush()
                out.write("".join(f"{j}\n" for j in pending))
                out.flush()
                pending.clear()
    fs.close()
    out.write("done\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
